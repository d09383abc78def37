#include "migrationoptions.h"

#include "api/apiroute.h"
#include "api/uploadparams.h"
#include "migrate/jsonreader.h"
#include "migrate/migrationrequest.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace Ferry {

namespace {

constexpr qint64 MaxPreviewRows = 1000;

Http::Response badRequest(const QString &message, const char *code)
{
    return Api::error(400, "Bad request", message, code);
}

Http::Response unknownMember(const QString &name, const QStringList &allowed)
{
    Http::Response response =
        badRequest(QStringLiteral("Unknown option '%1'. The options are %2.")
                       .arg(name.left(64), allowed.join(QStringLiteral(", "))),
                   "unknown_parameter");
    QJsonObject body = QJsonDocument::fromJson(response.body).object();
    body.insert(QStringLiteral("parameter"), name.left(64));
    body.insert(QStringLiteral("allowed"), QJsonArray::fromStringList(allowed));
    response.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
    return response;
}

Http::Response wrongType(const QString &name, const char *expected)
{
    return badRequest(QStringLiteral("%1 must be %2.").arg(name, QLatin1String(expected)),
                      QByteArray("invalid_" + name.toLatin1()).constData());
}

} // namespace

QStringList MigrationOptions::names(const QStringList &extra)
{
    QStringList names = UploadParams::names();
    names.removeAll(QStringLiteral("priority"));
    return names + extra;
}

std::variant<MigrationOptions, Http::Response> MigrationOptions::parse(const QByteArray &body,
                                                                       const QStringList &extra)
{
    MigrationOptions options;
    if (body.trimmed().isEmpty())
        return options;
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject()) {
        return badRequest(QStringLiteral("The body must be a JSON object of options, for example "
                                         "{\"mapping\": {\"fields\": [...]}, \"key\": \"id\"}%1.")
                              .arg(error.error != QJsonParseError::NoError
                                       ? QStringLiteral(" (%1 at offset %2)")
                                             .arg(error.errorString())
                                             .arg(error.offset)
                                       : QString()),
                          "invalid_body");
    }
    const QStringList allowed = names(extra);
    const QJsonObject object = document.object();
    for (auto it = object.begin(); it != object.end(); ++it) {
        const QString name = it.key();
        const QJsonValue value = it.value();
        if (!allowed.contains(name))
            return unknownMember(name, allowed);
        if ((name == u"mapping" || name == u"key") && value.isNull()) {
            options.m_dropped.append(name);
            continue;
        }
        QString text;
        if (name == u"mapping") {
            if (!value.isObject() && !value.isArray())
                return wrongType(name, "a JSON object (or null to drop the earlier mapping)");
            text = QString::fromUtf8((value.isObject() ? QJsonDocument(value.toObject())
                                                       : QJsonDocument(value.toArray()))
                                         .toJson(QJsonDocument::Compact));
        } else if (name == u"header") {
            if (!value.isBool())
                return wrongType(name, "true or false");
            text = value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
        } else if (name == u"priority" || name == u"rows") {
            if (!value.isDouble())
                return wrongType(name, "a whole number");
            text = QString::number(value.toDouble(), 'g', 17);
        } else {
            if (!value.isString())
                return wrongType(name, name == u"key" ? "a field name (or null)" : "a string");
            text = value.toString();
        }
        if (auto bad = options.take(name, text))
            return std::move(*bad);
    }
    return options;
}

std::variant<MigrationOptions, Http::Response>
MigrationOptions::fromQuery(const std::function<QString(const QString &)> &value,
                            const QStringList &extra)
{
    MigrationOptions options;
    for (const QString &name : names(extra)) {
        const QString text = value(name);
        if (text.isEmpty())
            continue; // absent or empty: not given
        if (auto bad = options.take(name, text))
            return std::move(*bad);
    }
    return options;
}

std::optional<Http::Response> MigrationOptions::take(const QString &name, const QString &text)
{
    if (name == u"rows") {
        bool ok = false;
        const qint64 rows = text.toLongLong(&ok);
        if (!ok || rows < 1 || rows > MaxPreviewRows) {
            return badRequest(
                QStringLiteral("rows must be a whole number from 1 to %1.").arg(MaxPreviewRows),
                "invalid_rows");
        }
        m_rows = rows;
        return std::nullopt;
    }
    UploadParams params; // checks the value as an upload's parameter is checked
    if (auto bad = params.take(name, text, u"option"))
        return bad;
    if (name == u"priority") {
        m_priority = params.priority();
    } else if (name == u"format") {
        m_overrides.insert(name, formatName(formatFromName(text)));
    } else if (name == u"delimiter" || name == u"quote") {
        m_overrides.insert(name, *checkCsvCharacter(name, text));
    } else if (name == u"mapping") {
        const QJsonDocument mapping = QJsonDocument::fromJson(text.toUtf8());
        m_overrides.insert(name, mapping.isArray() ? QJsonValue(mapping.array())
                                                   : QJsonValue(mapping.object()));
    } else if (name == u"header") {
        m_overrides.insert(name, text == u"true");
    } else {
        m_overrides.insert(name, text);
    }
    return std::nullopt;
}

QJsonObject MigrationOptions::applyTo(const QJsonObject &previous, const QString &blob) const
{
    QJsonObject payload = previous;
    for (const QString &name : m_dropped)
        payload.remove(name);
    for (auto it = m_overrides.begin(); it != m_overrides.end(); ++it)
        payload.insert(it.key(), it.value());
    payload.insert(QStringLiteral("blob"), blob);
    return payload;
}

} // namespace Ferry
