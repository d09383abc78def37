#include "uploadparams.h"

#include "api/apiroute.h"
#include "migrate/jsonreader.h"
#include "migrate/mapping.h"
#include "store/datasetstore.h"
#include "store/records.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace Ferry {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype MaxKeyLength = 256;

Http::Response badRequest(const QString &message, const char *code)
{
    return Api::error(400, "Bad request", message, code);
}

} // namespace

const QStringList &UploadParams::names()
{
    static const QStringList names{QStringLiteral("dataset"), QStringLiteral("format"),
                                   QStringLiteral("key"),     QStringLiteral("mapping"),
                                   QStringLiteral("header"),  QStringLiteral("delimiter"),
                                   QStringLiteral("quote"),   QStringLiteral("priority")};
    return names;
}

std::optional<Http::Response>
UploadParams::take(const QString &name, const QString &value, QStringView where)
{
    if (name == u"dataset") {
        if (auto valid = validateDatasetName(value); !valid)
            return badRequest(valid.error().toString(), "invalid_dataset");
        m_dataset = value;
    } else if (name == u"format") {
        if (formatFromName(value) == DataFormat::Unknown) {
            return badRequest(QStringLiteral("Unknown format '%1'. Use csv, tsv, ndjson or json, "
                                             "or leave it out to have it detected.")
                                  .arg(value.left(40)),
                              "invalid_format");
        }
        m_format = formatName(formatFromName(value));
    } else if (name == u"key") {
        if (value.isEmpty() || value.size() > MaxKeyLength) {
            return badRequest(
                QStringLiteral("key must name a field (1-%1 characters).").arg(MaxKeyLength),
                "invalid_key");
        }
        m_key = value;
    } else if (name == u"mapping") {
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson(value.toUtf8(), &error);
        if (error.error != QJsonParseError::NoError) {
            Http::Response response = badRequest(
                QStringLiteral("mapping is not valid JSON: %1 at offset %2 (bytes from its "
                               "start). See docs/api.md, \"Mappings\".")
                    .arg(error.errorString())
                    .arg(error.offset),
                "invalid_mapping");
            // The offset as a number too, for tools that point at it.
            QJsonObject body = QJsonDocument::fromJson(response.body).object();
            body.insert(QStringLiteral("position"), error.offset);
            response.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
            return response;
        }
        const QJsonValue mapping =
            document.isObject() ? QJsonValue(document.object()) : QJsonValue(document.array());
        if (auto valid = Mapping::fromJson(mapping); !valid)
            return badRequest(valid.error().toString(), "invalid_mapping");
        m_mapping = mapping;
    } else if (name == u"priority") {
        bool ok = false;
        const int priority = value.trimmed().toInt(&ok);
        if (!ok || priority < MinPriority || priority > MaxPriority) {
            return badRequest(QStringLiteral("priority must be a whole number from %1 to %2 "
                                             "(higher runs first); got '%3'.")
                                  .arg(MinPriority)
                                  .arg(MaxPriority)
                                  .arg(value.left(40)),
                              "invalid_priority");
        }
        m_priority = priority;
    } else if (name == u"header") {
        if (value != u"true" && value != u"false") {
            return badRequest(QStringLiteral("header must be true (the first line names the "
                                             "columns) or false; got '%1'.")
                                  .arg(value.left(40)),
                              "invalid_header");
        }
        m_header = value == u"true";
    } else if (name == u"delimiter" || name == u"quote") {
        auto character = checkCsvCharacter(name, value);
        if (!character)
            return badRequest(character.error().toString(),
                              name == u"delimiter" ? "invalid_delimiter" : "invalid_quote");
        (name == u"delimiter" ? m_delimiter : m_quote) = value;
    } else {
        Http::Response response =
            badRequest(QStringLiteral("Unknown %1 '%2'. An upload takes %3.")
                           .arg(where, name.left(64), names().join(QStringLiteral(", "))),
                       "unknown_parameter");
        QJsonObject body = QJsonDocument::fromJson(response.body).object();
        body.insert(QStringLiteral("allowed"), QJsonArray::fromStringList(names()));
        response.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
        return response;
    }
    return std::nullopt;
}

std::optional<Http::Response> UploadParams::checkComplete() const
{
    if (m_dataset.isEmpty()) {
        return badRequest(QStringLiteral("Name the dataset to import into: dataset=NAME (1 to 64 "
                                         "letters, digits, '_' or '-'), in the query or as a "
                                         "form field."),
                          "missing_dataset");
    }
    return std::nullopt;
}

MigrationRequest UploadParams::request(qint64 userId) const
{
    MigrationRequest request;
    request.userId = userId;
    request.dataset = m_dataset;
    request.format = m_format;
    request.key = m_key;
    request.mapping = m_mapping;
    request.header = m_header;
    request.delimiter = m_delimiter;
    if (!m_quote.isNull())
        request.quote = m_quote;
    request.priority = m_priority.value_or(0);
    return request;
}

QStringList UploadParams::canonical() const
{
    const QJsonObject mapping = m_mapping.toObject();
    return {QStringLiteral("dataset=") + m_dataset,
            QStringLiteral("format=") + m_format,
            QStringLiteral("key=") + m_key,
            QStringLiteral("mapping=") +
                (m_mapping.isObject()
                     ? QString::fromUtf8(QJsonDocument(mapping).toJson(QJsonDocument::Compact))
                     : QString()),
            QStringLiteral("priority=") + (m_priority ? QString::number(*m_priority) : QString()),
            QStringLiteral("header=") +
                (m_header ? (*m_header ? u"true"_s : u"false"_s) : QString()),
            QStringLiteral("delimiter=") + m_delimiter,
            QStringLiteral("quote=") + m_quote};
}

} // namespace Ferry
