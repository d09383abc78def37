#include "quota/limitparser.h"

#include <limits>

namespace Ferry {

namespace {

const QString Units = QStringLiteral("KMGT");

} // namespace

Result<std::optional<qint64>> parseLimit(QString text, LimitKind kind, const QString &what)
{
    text = text.trimmed();
    const bool bytes = kind == LimitKind::Bytes;
    if (text.compare(u"default", Qt::CaseInsensitive) == 0)
        return std::optional<qint64>();
    if (text.compare(u"unlimited", Qt::CaseInsensitive) == 0)
        return std::optional<qint64>(-1);
    const QString original = text;
    qint64 unit = 1;
    if (bytes && !text.isEmpty()) {
        if (const qsizetype index = Units.indexOf(text.back().toUpper()); index >= 0) {
            unit = qint64(1) << (10 * (index + 1));
            text.chop(1);
        }
    }
    bool ok = !text.isEmpty() && text.front().isDigit();
    const qint64 value = ok ? text.toLongLong(&ok) : 0;
    if (!ok || value < 0 || value > std::numeric_limits<qint64>::max() / unit) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("%1 '%2' is not a limit.").arg(what, original),
                         bytes ? QStringLiteral("Use a whole number of bytes (suffixes K, M, G, T "
                                                "allowed), 'unlimited' or 'default'.")
                               : QStringLiteral("Use a whole number, 'unlimited' or 'default'."));
    }
    return std::optional<qint64>(value * unit);
}

bool isLimitPrefix(const QString &text, LimitKind kind)
{
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return true;
    for (const QString &word : {QStringLiteral("unlimited"), QStringLiteral("default")}) {
        if (word.startsWith(trimmed, Qt::CaseInsensitive))
            return true;
    }
    return bool(parseLimit(trimmed, kind, QString()));
}

QString limitText(qint64 limit)
{
    return limit < 0 ? QStringLiteral("unlimited") : QString::number(limit);
}

QString humanBytes(qint64 bytes)
{
    if (bytes < 0)
        return QStringLiteral("unlimited");
    if (bytes < 1024)
        return QStringLiteral("%1 B").arg(bytes);
    static const char *const names[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = double(bytes);
    int index = -1;
    while (value >= 1024 && index < 5) {
        value /= 1024;
        ++index;
    }
    const bool whole = value == double(qint64(value));
    return QStringLiteral("%1 %2").arg(whole ? QString::number(qint64(value))
                                             : QString::number(value, 'f', 1),
                                       QLatin1String(names[index]));
}

} // namespace Ferry
