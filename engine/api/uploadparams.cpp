#include "uploadparams.h"

#include "api/apiroute.h"
#include "datasets/datasetstore.h"
#include "migrate/jsonreader.h"
#include "migrate/mapping.h"
#include "store/records.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace Ferry {

namespace {

constexpr qsizetype MaxKeyLength = 256;

Http::Response badRequest(const QString &message, const char *code)
{
    return Api::error(400, "Bad request", message, code);
}

} // namespace

std::optional<Http::Response> UploadParams::take(const QString &name, const QString &value)
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
    request.priority = m_priority.value_or(0);
    return request;
}

QStringList UploadParams::canonical() const
{
    const QJsonObject mapping = m_mapping.toObject();
    return {QStringLiteral("dataset=") + m_dataset, QStringLiteral("format=") + m_format,
            QStringLiteral("key=") + m_key,
            QStringLiteral("mapping=") +
                (m_mapping.isObject()
                     ? QString::fromUtf8(QJsonDocument(mapping).toJson(QJsonDocument::Compact))
                     : QString()),
            QStringLiteral("priority=") + (m_priority ? QString::number(*m_priority) : QString())};
}

} // namespace Ferry
