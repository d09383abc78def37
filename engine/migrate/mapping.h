#pragma once

#include "core/error.h"
#include "core/jsontext.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>

#include <optional>
#include <string>
#include <vector>

namespace Ferry {

enum class FieldType { String, Integer, Number, Boolean, Date, DateTime, Json };

struct FieldSpec
{
    QString name;   // target field in the stored document
    QString source; // CSV/TSV column name, or JSON key (dotted path for nested keys)
    FieldType type = FieldType::String;
    bool required = false;
    std::optional<QJsonValue> defaultValue; // used when the source is empty or missing
};

// A migration's mapping, as given in the job payload:
//   {"fields": [{"name": "id", "source": "ID", "type": "integer", "required": true},
//               {"name": "email", "type": "string", "default": ""}],
//    "key": "id"}
// "source" defaults to "name"; "type" to "string". "key" names a target field whose value
// identifies a record: importing a record with an existing key replaces it (upsert).
struct Mapping
{
    // As many fields as a CSV record may have columns (MigrateConfig::maxColumns' default).
    static constexpr qsizetype MaxFields = 100'000;

    std::vector<FieldSpec> fields;
    QString key;

    static Result<Mapping> fromJson(const QJsonValue &json);
    QJsonArray columns() const;
    // Each field's name → its type's name ("integer"), for the dataset's schema.
    QJsonObject types() const;
};

QString fieldTypeName(FieldType type);

// Converts one source value to the JSON text of the target type, appended to out. On failure
// returns false and sets reason ("'abc' is not an integer").
bool convertText(FieldType type, std::string_view text, std::string &out, std::string &reason);
bool convertJson(FieldType type, const QJsonValue &value, std::string &out, std::string &reason);

} // namespace Ferry
