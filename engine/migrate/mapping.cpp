#include "mapping.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>

#include <charconv>
#include <cmath>

namespace Ferry {

namespace {

struct TypeName
{
    FieldType type;
    const char16_t *name;
};
constexpr TypeName s_types[] = {
    {FieldType::String, u"string"}, {FieldType::Integer, u"integer"},
    {FieldType::Number, u"number"}, {FieldType::Boolean, u"boolean"},
    {FieldType::Date, u"date"},     {FieldType::DateTime, u"datetime"},
    {FieldType::Json, u"json"},
};

Error mappingError(const QString &what)
{
    return makeError(
        ErrorCode::InvalidArgument, QStringLiteral("Invalid mapping: ") + what,
        QStringLiteral("See docs/api.md, \"Mappings\": {\"fields\": [{\"name\": \"id\", "
                       "\"type\": \"integer\"}], \"key\": \"id\"}."));
}

std::string_view trimmed(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = char(x - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

std::string quoted(std::string_view text)
{
    std::string result = "'";
    result.append(text.substr(0, 40));
    if (text.size() > 40)
        result.append("...");
    result.append("'");
    return result;
}

bool digits(std::string_view text, size_t from, size_t count)
{
    if (from + count > text.size())
        return false;
    for (size_t i = from; i < from + count; ++i) {
        if (text[i] < '0' || text[i] > '9')
            return false;
    }
    return true;
}

int number(std::string_view text, size_t from, size_t count)
{
    int value = 0;
    for (size_t i = from; i < from + count; ++i)
        value = value * 10 + (text[i] - '0');
    return value;
}

bool validDate(int year, int month, int day)
{
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || month < 1 || month > 12 || day < 1)
        return false;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= days[month - 1] + (month == 2 && leap ? 1 : 0);
}

// Days from 1970-01-01 (Howard Hinnant's days_from_civil).
qint64 daysFromCivil(int y, int m, int d)
{
    y -= m <= 2;
    const qint64 era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = unsigned((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + qint64(doe) - 719468;
}

void civilFromDays(qint64 z, int &y, int &m, int &d)
{
    z += 719468;
    const qint64 era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = unsigned(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = int(doy - (153 * mp + 2) / 5 + 1);
    m = int(mp < 10 ? mp + 3 : mp - 9);
    y = int(qint64(yoe) + era * 400 + (m <= 2));
}

void appendPadded(std::string &out, int value, int width)
{
    char buffer[16];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    for (int i = int(end - buffer); i < width; ++i)
        out.push_back('0');
    out.append(buffer, end);
}

bool convertDate(std::string_view text, std::string &out, std::string &reason)
{
    if (text.size() != 10 || !digits(text, 0, 4) || text[4] != '-' || !digits(text, 5, 2) ||
        text[7] != '-' || !digits(text, 8, 2) ||
        !validDate(number(text, 0, 4), number(text, 5, 2), number(text, 8, 2))) {
        reason = quoted(text) + " is not a date (YYYY-MM-DD)";
        return false;
    }
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return true;
}

// ISO 8601: YYYY-MM-DD[T ]HH:MM[:SS[.fff...]][Z|+HH:MM|-HH:MM|+HHMM]; no zone means UTC.
// Written back normalized to UTC: "YYYY-MM-DDTHH:MM:SS.mmmZ".
bool convertDateTime(std::string_view text, std::string &out, std::string &reason)
{
    auto fail = [&] {
        reason = quoted(text) + " is not a date-time (ISO 8601, e.g. 2026-11-29T14:05:00Z)";
        return false;
    };
    if (text.size() < 16 || !digits(text, 0, 4) || text[4] != '-' || !digits(text, 5, 2) ||
        text[7] != '-' || !digits(text, 8, 2) ||
        (text[10] != 'T' && text[10] != ' ' && text[10] != 't') || !digits(text, 11, 2) ||
        text[13] != ':' || !digits(text, 14, 2))
        return fail();
    const int year = number(text, 0, 4), month = number(text, 5, 2), day = number(text, 8, 2);
    const int hour = number(text, 11, 2), minute = number(text, 14, 2);
    int second = 0, millis = 0;
    size_t i = 16;
    if (i < text.size() && text[i] == ':') {
        if (!digits(text, i + 1, 2))
            return fail();
        second = number(text, i + 1, 2);
        i += 3;
        if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
            ++i;
            int scale = 100;
            const size_t start = i;
            while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
                millis += (text[i] - '0') * scale;
                scale /= 10;
                ++i;
            }
            if (i == start)
                return fail();
        }
    }
    int offsetMinutes = 0;
    if (i < text.size()) {
        if ((text[i] == 'Z' || text[i] == 'z') && i + 1 == text.size()) {
            ++i;
        } else if (text[i] == '+' || text[i] == '-') {
            const int sign = text[i] == '-' ? -1 : 1;
            std::string_view zone = text.substr(i + 1);
            if (zone.size() == 5 && digits(zone, 0, 2) && zone[2] == ':' && digits(zone, 3, 2))
                offsetMinutes = sign * (number(zone, 0, 2) * 60 + number(zone, 3, 2));
            else if (zone.size() == 4 && digits(zone, 0, 4))
                offsetMinutes = sign * (number(zone, 0, 2) * 60 + number(zone, 2, 2));
            else if (zone.size() == 2 && digits(zone, 0, 2))
                offsetMinutes = sign * number(zone, 0, 2) * 60;
            else
                return fail();
            i = text.size();
        } else {
            return fail();
        }
    }
    if (i != text.size() || !validDate(year, month, day) || hour > 23 || minute > 59 ||
        second > 60 || std::abs(offsetMinutes) > 18 * 60)
        return fail();
    qint64 ms = (daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                 qMin(second, 59) - offsetMinutes * 60) *
                    1000 +
                millis;
    const qint64 days = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
    qint64 rest = ms - days * 86'400'000;
    int y, m, d;
    civilFromDays(days, y, m, d);
    if (y < 1 || y > 9999)
        return fail();
    out.push_back('"');
    appendPadded(out, y, 4);
    out.push_back('-');
    appendPadded(out, m, 2);
    out.push_back('-');
    appendPadded(out, d, 2);
    out.push_back('T');
    appendPadded(out, int(rest / 3'600'000), 2);
    rest %= 3'600'000;
    out.push_back(':');
    appendPadded(out, int(rest / 60'000), 2);
    rest %= 60'000;
    out.push_back(':');
    appendPadded(out, int(rest / 1000), 2);
    out.push_back('.');
    appendPadded(out, int(rest % 1000), 3);
    out.append("Z\"");
    return true;
}

bool appendNumber(std::string &out, double value)
{
    if (!std::isfinite(value))
        return false;
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    if (ec != std::errc())
        return false;
    out.append(buffer, end);
    return true;
}

} // namespace

QString fieldTypeName(FieldType type)
{
    for (const TypeName &t : s_types) {
        if (t.type == type)
            return QString::fromUtf16(t.name);
    }
    return {};
}

Result<Mapping> Mapping::fromJson(const QJsonValue &json)
{
    if (!json.isObject())
        return mappingError(QStringLiteral("it must be a JSON object with a \"fields\" array."));
    const QJsonObject object = json.toObject();
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (it.key() != u"fields" && it.key() != u"key")
            return mappingError(QStringLiteral("unknown member \"%1\".").arg(it.key()));
    }
    const QJsonValue fields = object.value(u"fields");
    if (!fields.isArray() || fields.toArray().isEmpty())
        return mappingError(QStringLiteral("\"fields\" must be a non-empty array."));
    if (fields.toArray().size() > Mapping::MaxFields) {
        return mappingError(QStringLiteral("it has %1 fields; a mapping has at most %2.")
                                .arg(fields.toArray().size())
                                .arg(Mapping::MaxFields));
    }
    Mapping mapping;
    QSet<QString> names; // a set: a list's contains() made a long mapping quadratic
    for (const QJsonValue &value : fields.toArray()) {
        if (!value.isObject())
            return mappingError(QStringLiteral("every field must be an object."));
        const QJsonObject f = value.toObject();
        for (auto it = f.begin(); it != f.end(); ++it) {
            static const QStringList known{QStringLiteral("name"), QStringLiteral("source"),
                                           QStringLiteral("type"), QStringLiteral("required"),
                                           QStringLiteral("default")};
            if (!known.contains(it.key()))
                return mappingError(
                    QStringLiteral("unknown member \"%1\" in a field.").arg(it.key()));
        }
        FieldSpec spec;
        spec.name = f.value(u"name").toString();
        if (spec.name.isEmpty() || spec.name.size() > 256)
            return mappingError(QStringLiteral("every field needs a \"name\" (1-256 characters)."));
        if (names.contains(spec.name))
            return mappingError(QStringLiteral("field \"%1\" appears twice.").arg(spec.name));
        names.insert(spec.name);
        spec.source = f.value(u"source").toString(spec.name);
        const QString type = f.value(u"type").toString(QStringLiteral("string"));
        bool known = false;
        for (const TypeName &t : s_types) {
            if (type == QStringView(t.name)) {
                spec.type = t.type;
                known = true;
            }
        }
        if (!known) {
            return mappingError(QStringLiteral("field \"%1\" has unknown type \"%2\" (use string, "
                                               "integer, number, boolean, date, datetime or json).")
                                    .arg(spec.name, type));
        }
        const QJsonValue required = f.value(u"required");
        if (!required.isUndefined() && !required.isBool())
            return mappingError(
                QStringLiteral("\"required\" of \"%1\" must be true or false.").arg(spec.name));
        spec.required = required.toBool(false);
        if (f.contains(u"default")) {
            const QJsonValue def = f.value(u"default");
            std::string out, reason;
            if (!def.isNull() && !convertJson(spec.type, def, out, reason)) {
                return mappingError(
                    QStringLiteral("the default of \"%1\" does not fit its type: %2")
                        .arg(spec.name, QString::fromStdString(reason)));
            }
            spec.defaultValue = def;
        }
        mapping.fields.push_back(spec);
    }
    const QJsonValue key = object.value(u"key");
    if (!key.isUndefined()) {
        mapping.key = key.toString();
        if (!names.contains(mapping.key))
            return mappingError(QStringLiteral("\"key\" must name one of the fields."));
    }
    return mapping;
}

QJsonArray Mapping::columns() const
{
    QJsonArray columns;
    for (const FieldSpec &f : fields)
        columns.append(f.name);
    return columns;
}

QJsonObject Mapping::types() const
{
    QJsonObject types;
    for (const FieldSpec &f : fields)
        types.insert(f.name, fieldTypeName(f.type));
    return types;
}

bool convertText(FieldType type, std::string_view text, std::string &out, std::string &reason)
{
    switch (type) {
    case FieldType::String:
        appendJsonString(out, text);
        return true;
    case FieldType::Integer: {
        std::string_view t = trimmed(text);
        if (t.size() > 1 && t.front() == '+' && t[1] != '-') // "+5", not "+-5"
            t.remove_prefix(1);
        qint64 value = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
            reason = quoted(text) + (ec == std::errc::result_out_of_range
                                         ? " is out of the 64-bit integer range"
                                         : " is not an integer");
            return false;
        }
        char buffer[24];
        auto [e, ok] = std::to_chars(buffer, buffer + sizeof buffer, value);
        out.append(buffer, e);
        return true;
    }
    case FieldType::Number: {
        std::string_view t = trimmed(text);
        if (t.size() > 1 && t.front() == '+' && t[1] != '-') // "+5", not "+-5"
            t.remove_prefix(1);
        double value = 0;
        auto [end, ec] =
            std::from_chars(t.data(), t.data() + t.size(), value, std::chars_format::general);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size() ||
            !appendNumber(out, value)) {
            reason = quoted(text) + " is not a number";
            return false;
        }
        return true;
    }
    case FieldType::Boolean: {
        const std::string_view t = trimmed(text);
        for (const char *yes : {"true", "1", "yes", "y", "t"}) {
            if (equalsIgnoreCase(t, yes)) {
                out.append("true");
                return true;
            }
        }
        for (const char *no : {"false", "0", "no", "n", "f"}) {
            if (equalsIgnoreCase(t, no)) {
                out.append("false");
                return true;
            }
        }
        reason = quoted(text) + " is not a boolean (true/false, 1/0, yes/no)";
        return false;
    }
    case FieldType::Date:
        return convertDate(trimmed(text), out, reason);
    case FieldType::DateTime:
        return convertDateTime(trimmed(text), out, reason);
    case FieldType::Json: {
        const QByteArray wrapped = QByteArrayLiteral("[") +
                                   QByteArray(text.data(), qsizetype(text.size())) +
                                   QByteArrayLiteral("]");
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(wrapped, &error);
        if (error.error != QJsonParseError::NoError || doc.array().size() != 1) {
            reason = quoted(text) + " is not JSON";
            return false;
        }
        const QByteArray compact = QJsonDocument(doc.array()).toJson(QJsonDocument::Compact);
        out.append(compact.constData() + 1, size_t(compact.size() - 2));
        return true;
    }
    }
    return false;
}

bool convertJson(FieldType type, const QJsonValue &value, std::string &out, std::string &reason)
{
    switch (value.type()) {
    case QJsonValue::String: {
        const QByteArray utf8 = value.toString().toUtf8();
        return convertText(type, std::string_view(utf8.constData(), size_t(utf8.size())), out,
                           reason);
    }
    case QJsonValue::Double: {
        const double number = value.toDouble();
        if (type == FieldType::Integer) {
            if (number != std::floor(number) || std::abs(number) > 9.007199254740992e15) {
                reason = "the number " + std::to_string(number) + " is not an integer";
                return false;
            }
            out.append(std::to_string(qint64(number)));
            return true;
        }
        if (type == FieldType::Number || type == FieldType::Json) {
            return appendNumber(out, number) || (reason = "not a finite number", false);
        }
        if (type == FieldType::String) {
            std::string text;
            appendNumber(text, number);
            appendJsonString(out, text);
            return true;
        }
        break;
    }
    case QJsonValue::Bool:
        if (type == FieldType::Boolean || type == FieldType::Json) {
            out.append(value.toBool() ? "true" : "false");
            return true;
        }
        if (type == FieldType::String) {
            appendJsonString(out, value.toBool() ? "true" : "false");
            return true;
        }
        break;
    case QJsonValue::Array:
    case QJsonValue::Object:
        if (type == FieldType::Json) {
            const QByteArray compact =
                value.isArray() ? QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact)
                                : QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact);
            out.append(compact.constData(), size_t(compact.size()));
            return true;
        }
        break;
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        out.append("null");
        return true;
    }
    reason = "a JSON " +
             std::string(value.isBool()     ? "boolean"
                         : value.isDouble() ? "number"
                         : value.isArray()  ? "array"
                                            : "object") +
             " does not convert to " + fieldTypeName(type).toStdString();
    return false;
}

} // namespace Ferry
