#pragma once

#include "core/error.h"
#include "migrate/jsonreader.h"
#include "migrate/mapping.h"

#include <QJsonObject>

#include <optional>

namespace Ferry {

// What a "migrate" job's payload asks for, checked:
// {"blob": "<sha256>", "format": "csv|tsv|ndjson|json", "dataset": "name", "mapping": {...}?,
//  "key": "field"?, "header": true?, "delimiter": ","?, "quote": "\""?, "maxRejectedRows": N?}
struct MigrationPayload
{
    QString blob;
    DataFormat format = DataFormat::Unknown;
    QString dataset;
    std::optional<Mapping> mapping;
    QString key;
    bool header = true;
    char delimiter = 0; // 0: the format's own
    char quote = '"';   // 0: no quoting
    bool quoteSet = false;
    qint64 maxRejectedRows = -1; // -1: the engine's limit
};

enum class PayloadUse {
    Import, // a job's: blob and dataset are required
    DryRun, // a dry run's: the file comes from elsewhere, the dataset is optional
};

// InvalidArgument naming the field that is wrong.
Result<MigrationPayload> parseMigrationPayload(const QJsonObject &json,
                                               PayloadUse use = PayloadUse::Import);

} // namespace Ferry
