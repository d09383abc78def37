#include "migrationpayload.h"

#include "storage/blobstore.h"
#include "store/datasetstore.h"

#include <cmath>

namespace Ferry {

namespace {

Error payloadError(const QString &message, const QString &hint = {})
{
    return makeError(ErrorCode::InvalidArgument, message, hint);
}

Result<char> singleCharacter(const QJsonObject &payload, QStringView name)
{
    const QString text = payload.value(name).toString();
    if (text.size() != 1 || text.at(0).unicode() > 127 || text.at(0) == u'\n' ||
        text.at(0) == u'\r') {
        return payloadError(
            QStringLiteral("\"%1\" must be one ASCII character other than a line end.").arg(name));
    }
    return char(text.at(0).unicode());
}

} // namespace

Result<MigrationPayload> parseMigrationPayload(const QJsonObject &json, PayloadUse use)
{
    MigrationPayload p;
    p.blob = json.value(u"blob").toString();
    if (use == PayloadUse::Import && !isBlobId(p.blob))
        return payloadError(QStringLiteral("\"blob\" must name a stored upload (a SHA-256)."));
    p.format = formatFromName(json.value(u"format").toString());
    if (p.format == DataFormat::Unknown) {
        return payloadError(
            QStringLiteral("Unknown format '%1'.").arg(json.value(u"format").toString()),
            QStringLiteral("Use csv, tsv, ndjson or json."));
    }
    p.dataset = json.value(u"dataset").toString();
    if (use == PayloadUse::Import || !p.dataset.isEmpty()) {
        if (auto valid = validateDatasetName(p.dataset); !valid)
            return valid.error();
    }
    if (json.contains(u"mapping") && !json.value(u"mapping").isNull()) {
        auto mapping = Mapping::fromJson(json.value(u"mapping"));
        if (!mapping)
            return mapping.error();
        p.mapping = *mapping;
    }
    p.key = json.value(u"key").toString();
    if (json.contains(u"header")) {
        if (!json.value(u"header").isBool())
            return payloadError(QStringLiteral("\"header\" must be true or false."));
        p.header = json.value(u"header").toBool();
    }
    if (json.contains(u"delimiter")) {
        auto c = singleCharacter(json, u"delimiter");
        if (!c)
            return c.error();
        p.delimiter = *c;
    }
    if (json.contains(u"quote")) {
        p.quoteSet = true;
        if (json.value(u"quote").toString().isEmpty()) {
            p.quote = 0;
        } else {
            auto c = singleCharacter(json, u"quote");
            if (!c)
                return c.error();
            p.quote = *c;
        }
    }
    if (json.contains(u"maxRejectedRows")) {
        const double max = json.value(u"maxRejectedRows").toDouble(-1);
        if (max < 0 || max != std::floor(max))
            return payloadError(QStringLiteral("\"maxRejectedRows\" must be a whole number >= 0."));
        p.maxRejectedRows = qint64(max);
    }
    return p;
}

} // namespace Ferry
