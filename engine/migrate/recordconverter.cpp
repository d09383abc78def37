#include "recordconverter.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <unordered_map>

namespace Ferry {

namespace {

// A key is compared after conversion: a string as its text, anything else as its JSON text, so
// the string "7" and the integer 7 are one key (and match what DatasetStore::useKey derives from
// records imported before the dataset had a key).
void setCanonicalKey(std::string &key, std::string_view json)
{
    if (json.empty() || json.front() != '"') {
        key.assign(json);
        return;
    }
    if (json.find('\\') == std::string_view::npos && json.size() >= 2) {
        key.assign(json.substr(1, json.size() - 2));
        return;
    }
    QByteArray array = QByteArrayLiteral("[");
    array.append(json.data(), qsizetype(json.size()));
    array.append(']');
    key = QJsonDocument::fromJson(array).array().at(0).toString().toStdString();
}

std::string toStd(const QString &text)
{
    return text.toStdString();
}

Error converterError(const QString &message, const QString &hint)
{
    return makeError(ErrorCode::InvalidArgument, message, hint);
}

// A value at a dotted path ("address.city") in a JSON object.
QJsonValue valueAt(const QJsonObject &object, const QString &path)
{
    if (!path.contains(u'.'))
        return object.value(path);
    QJsonValue current = object;
    for (const QString &part : path.split(u'.')) {
        if (!current.isObject())
            return QJsonValue(QJsonValue::Undefined);
        current = current.toObject().value(part);
    }
    return current;
}

// The header for an error message: the first names, and how many more (a header can be
// 100,000 columns wide; a job's error is read by a person).
QString listColumns(const std::vector<std::string> &header)
{
    constexpr size_t Shown = 20;
    std::string all;
    for (size_t i = 0; i < std::min(header.size(), Shown); ++i) {
        if (!all.empty())
            all.append(", ");
        all.append(header[i].substr(0, 100));
    }
    QString text = QString::fromStdString(all);
    if (header.size() > Shown)
        text += QStringLiteral(" and %1 more").arg(header.size() - Shown);
    return text;
}

} // namespace

Result<RecordConverter> RecordConverter::forTable(std::optional<Mapping> mapping,
                                                  const QString &keyField,
                                                  const std::vector<std::string> &header)
{
    RecordConverter c;
    c.m_columnCount = header.size();
    // Each name's first column, in one pass: the header can have as many columns as the reader
    // allows, so no step here may look at the header once per column.
    std::unordered_map<std::string_view, size_t> index;
    index.reserve(header.size());
    std::optional<size_t> duplicate;
    for (size_t i = 0; i < header.size(); ++i) {
        if (!index.emplace(header[i], i).second && !duplicate)
            duplicate = i;
    }
    auto columnOf = [&](const QString &name) -> std::optional<size_t> {
        const std::string text = toStd(name);
        const auto it = index.find(text);
        return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
    };
    if (mapping) {
        for (const FieldSpec &field : mapping->fields) {
            const std::optional<size_t> column = columnOf(field.source);
            if (!column) {
                return converterError(
                    QStringLiteral("The mapping names a column the file does not have: \"%1\".")
                        .arg(field.source),
                    QStringLiteral("The file's columns are: %1.").arg(listColumns(header)));
            }
            c.m_sourceColumn.push_back(int(*column));
        }
    } else {
        if (duplicate) {
            return converterError(
                QStringLiteral("The column \"%1\" appears twice in the header.")
                    .arg(QString::fromStdString(header[*duplicate].substr(0, 200))),
                QStringLiteral("Rename one, or give a mapping that picks the columns."));
        }
        for (const std::string &name : header)
            c.m_columns.append(QString::fromStdString(name));
        if (!keyField.isEmpty()) {
            const std::optional<size_t> column = columnOf(keyField);
            if (!column) {
                return converterError(
                    QStringLiteral("The key column \"%1\" is not in the file.").arg(keyField),
                    QStringLiteral("Name one of the header's columns as the key."));
            }
            c.m_keyIndex = int(*column);
        }
        for (size_t i = 0; i < header.size(); ++i) {
            std::string prefix;
            if (i > 0)
                prefix.push_back(',');
            appendJsonString(prefix, header[i]);
            prefix.push_back(':');
            c.m_keyPrefix.push_back(std::move(prefix));
        }
    }
    auto base = forDocuments(std::move(mapping), keyField);
    if (!base)
        return base.error();
    if (base->m_mapping) {
        base->m_sourceColumn = c.m_sourceColumn;
        base->m_columnCount = c.m_columnCount;
        return std::move(*base);
    }
    c.m_keyField = keyField;
    return c;
}

Result<RecordConverter> RecordConverter::forDocuments(std::optional<Mapping> mapping,
                                                      const QString &keyField)
{
    RecordConverter c;
    c.m_keyField = keyField;
    if (!mapping)
        return c;
    if (!keyField.isEmpty() && !mapping->key.isEmpty() && keyField != mapping->key) {
        return converterError(QStringLiteral("Two different keys: \"%1\" and the mapping's \"%2\".")
                                  .arg(keyField, mapping->key),
                              QStringLiteral("Give the key once."));
    }
    const QString key = mapping->key.isEmpty() ? keyField : mapping->key;
    for (size_t i = 0; i < mapping->fields.size(); ++i) {
        const FieldSpec &field = mapping->fields[i];
        std::string prefix;
        if (i > 0)
            prefix.push_back(',');
        appendJsonString(prefix, toStd(field.name));
        prefix.push_back(':');
        c.m_keyPrefix.push_back(std::move(prefix));
        std::string def, reason;
        if (field.defaultValue && !field.defaultValue->isNull())
            convertJson(field.type, *field.defaultValue, def, reason);
        c.m_defaults.push_back(def);
        if (field.name == key)
            c.m_keyIndex = int(i);
    }
    if (!key.isEmpty() && c.m_keyIndex < 0) {
        return converterError(
            QStringLiteral("The key \"%1\" is not one of the mapped fields.").arg(key),
            QStringLiteral("Name a field of the mapping as the key."));
    }
    c.m_columns = mapping->columns();
    c.m_mapping = std::move(mapping);
    return c;
}

bool RecordConverter::convertMapped(
    const std::function<bool(size_t, std::string &, std::string &)> &valueOf,
    RecordWrite &out,
    QList<RowError> &errors)
{
    // valueOf(i, out, reason): appends field i's JSON text; false with an empty reason means
    // "missing" (empty cell, absent key, null), false with a reason means "does not convert".
    // Every field is looked at, so a rejected row lists all its errors (up to MaxRowErrors).
    errors.clear();
    qsizetype failed = 0;
    auto fail = [&](const QString &field, QString reason) {
        if (++failed <= MaxRowErrors)
            errors.append({0, field, std::move(reason)});
    };
    out.doc.clear();
    out.doc.push_back('{');
    out.key.clear();
    for (size_t i = 0; i < m_mapping->fields.size(); ++i) {
        const FieldSpec &field = m_mapping->fields[i];
        out.doc.append(m_keyPrefix[i]);
        const size_t start = out.doc.size();
        std::string reason;
        if (!valueOf(i, out.doc, reason)) {
            out.doc.resize(start);
            if (!reason.empty()) {
                fail(field.name, QString::fromStdString(reason));
                continue;
            }
            if (!m_defaults[i].empty()) {
                out.doc.append(m_defaults[i]);
            } else if (field.required) {
                fail(field.name, QStringLiteral("a value is required"));
                continue;
            } else {
                out.doc.append("null");
            }
        }
        if (int(i) == m_keyIndex) {
            setCanonicalKey(out.key, std::string_view(out.doc).substr(start));
            if (out.key.empty() || out.doc.compare(start, std::string::npos, "null") == 0)
                fail(field.name, QStringLiteral("the key field is empty"));
        }
    }
    if (failed > MaxRowErrors) {
        errors.append({0, QString(),
                       QStringLiteral("and %1 more fields of this row do not convert")
                           .arg(failed - MaxRowErrors)});
    }
    if (failed > 0)
        return false;
    out.doc.push_back('}');
    return true;
}

bool RecordConverter::convertRow(const std::vector<std::string_view> &fields,
                                 RecordWrite &out,
                                 QList<RowError> &errors)
{
    errors.clear();
    if (fields.size() != m_columnCount) {
        errors.append(
            {0, QString(),
             QStringLiteral("expected %1 fields, found %2").arg(m_columnCount).arg(fields.size())});
        return false;
    }
    if (m_mapping) {
        return convertMapped(
            [&](size_t i, std::string &doc, std::string &reason) {
                const std::string_view text = fields[size_t(m_sourceColumn[i])];
                if (text.empty())
                    return false;
                return convertText(m_mapping->fields[i].type, text, doc, reason);
            },
            out, errors);
    }
    out.doc.clear();
    out.doc.push_back('{');
    for (size_t i = 0; i < fields.size(); ++i) {
        out.doc.append(m_keyPrefix[i]);
        appendJsonString(out.doc, fields[i]);
    }
    out.doc.push_back('}');
    out.key.clear();
    if (m_keyIndex >= 0) {
        if (fields[size_t(m_keyIndex)].empty()) {
            errors.append(
                {0, m_columns.at(m_keyIndex).toString(), QStringLiteral("the key field is empty")});
            return false;
        }
        out.key.assign(fields[size_t(m_keyIndex)]);
    }
    return true;
}

bool RecordConverter::convertDocument(std::string_view json,
                                      RecordWrite &out,
                                      QList<RowError> &errors)
{
    errors.clear();
    if (!m_mapping && m_keyField.isEmpty()) {
        out.doc.assign(json);
        out.key.clear();
        return true;
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(
        QByteArray::fromRawData(json.data(), qsizetype(json.size())), &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        errors.append(
            {0, QString(),
             QStringLiteral("the document cannot be read: %1").arg(parseError.errorString())});
        return false;
    }
    if (!document.isObject()) {
        errors.append({0, QString(), QStringLiteral("expected a JSON object")});
        return false;
    }
    const QJsonObject object = document.object();
    if (m_mapping) {
        return convertMapped(
            [&](size_t i, std::string &doc, std::string &reason) {
                const FieldSpec &field = m_mapping->fields[i];
                const QJsonValue value = valueAt(object, field.source);
                if (value.isUndefined() || value.isNull() ||
                    (value.isString() && value.toString().isEmpty() &&
                     field.type != FieldType::String))
                    return false;
                return convertJson(field.type, value, doc, reason);
            },
            out, errors);
    }
    out.doc.assign(json);
    const QJsonValue key = valueAt(object, m_keyField);
    out.key.clear();
    std::string reason;
    bool converted = true;
    if (key.isString())
        out.key = key.toString().toStdString();
    else
        converted = convertJson(FieldType::Json, key, out.key, reason);
    if (key.isUndefined() || key.isNull() || !converted || out.key.empty()) {
        errors.append({0, m_keyField, QStringLiteral("the key field is missing")});
        return false;
    }
    return true;
}

} // namespace Ferry
