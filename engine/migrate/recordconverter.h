#pragma once

#include "migrate/mapping.h"
#include "store/datasetstore.h"

#include <QJsonArray>
#include <QJsonObject>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Ferry {

// Turns source rows (CSV/TSV fields, or JSON documents) into the stored JSON documents and their
// upsert keys, applying the mapping. A row that does not convert is rejected with every field
// that fails and why (its line left 0, for the caller to fill in); it never aborts the file.
class RecordConverter final
{
public:
    // keyField: without a mapping, the column or top-level key whose value is the record key.
    static Result<RecordConverter> forTable(std::optional<Mapping> mapping,
                                            const QString &keyField,
                                            const std::vector<std::string> &header);
    static Result<RecordConverter> forDocuments(std::optional<Mapping> mapping,
                                                const QString &keyField);

    // The most errors listed for one row; past it, one more entry says how many were left out
    // (a mapping can have Mapping::MaxFields fields).
    static constexpr qsizetype MaxRowErrors = 20;

    QJsonArray columns() const { return m_columns; }
    // The mapping's field types (Mapping::types()); empty without a mapping.
    QJsonObject types() const { return m_mapping ? m_mapping->types() : QJsonObject(); }
    // False when the row is rejected: `errors` then lists why (cleared first).
    bool convertRow(const std::vector<std::string_view> &fields,
                    RecordWrite &out,
                    QList<RowError> &errors);
    bool convertDocument(std::string_view json, RecordWrite &out, QList<RowError> &errors);

private:
    bool convertMapped(const std::function<bool(size_t, std::string &, std::string &)> &valueOf,
                       RecordWrite &out,
                       QList<RowError> &errors);

    std::optional<Mapping> m_mapping;
    QString m_keyField;
    QJsonArray m_columns;
    std::vector<std::string> m_keyPrefix; // per output field: "\"name\":" (with a leading comma)
    std::vector<int> m_sourceColumn;      // tabular + mapping: column of each field
    std::vector<std::string> m_defaults;  // JSON text of each field's default, or empty
    int m_keyIndex = -1;                  // field (mapping) or column (no mapping) of the key
    size_t m_columnCount = 0;
    std::string m_scratch;
};

} // namespace Ferry
