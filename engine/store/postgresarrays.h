#pragma once
// PostgreSQL array literals ("{1,2,NULL}", "{\"a\",\"b\"}") bound as one text parameter and cast
// in SQL (?::bigint[], ?::text[]): how PostgresStore sends many values in one statement (unnest,
// = ANY) without building SQL text from them.

#include <QList>
#include <QString>

#include <optional>

namespace Ferry {

inline QString bigintArray(const QList<qint64> &values)
{
    QString text = QStringLiteral("{");
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i > 0)
            text += u',';
        text += QString::number(values.at(i));
    }
    return text + u'}';
}

// A PostgreSQL array literal of text elements: each quoted, backslash and quote escaped; a
// null QString is NULL.
class TextArray
{
public:
    void add(const QString &value)
    {
        m_text += m_text.isEmpty() ? QStringLiteral("{") : QStringLiteral(",");
        if (value.isNull()) {
            m_text += QStringLiteral("NULL");
            return;
        }
        QString escaped = value;
        escaped.replace(u'\\', QStringLiteral("\\\\"));
        escaped.replace(u'"', QStringLiteral("\\\""));
        m_text += u'"' + escaped + u'"';
    }
    QString text() const { return m_text.isEmpty() ? QStringLiteral("{}") : m_text + u'}'; }

private:
    QString m_text;
};

class NumberArray
{
public:
    void add(std::optional<qint64> value)
    {
        m_text += m_text.isEmpty() ? QStringLiteral("{") : QStringLiteral(",");
        m_text += value ? QString::number(*value) : QStringLiteral("NULL");
    }
    QString text() const { return m_text.isEmpty() ? QStringLiteral("{}") : m_text + u'}'; }

private:
    QString m_text;
};

} // namespace Ferry
