#include "commandoutput.h"

#include <QJsonDocument>

#include <cstdio>

namespace Ferry {

void print(const QString &text)
{
    std::fputs(text.toUtf8().constData(), stdout);
    std::fputc('\n', stdout);
}

int fail(const Error &error)
{
    const bool callersFault =
        error.code == ErrorCode::InvalidArgument || error.code == ErrorCode::Config;
    return fail(error, callersFault ? ExitUsage : ExitFailure);
}

int fail(const Error &error, int code)
{
    std::fprintf(stderr, "ferry: %s\n", qPrintable(error.toString()));
    return code;
}

int usage(const QString &message)
{
    std::fprintf(stderr, "ferry: %s\nRun 'ferry --help' for usage.\n", qPrintable(message));
    return ExitUsage;
}

void note(const QString &text)
{
    std::fprintf(stderr, "ferry: %s\n", qPrintable(text));
}

QString sizeText(qint64 bytes)
{
    static const char *const units[] = {"EiB", "PiB", "TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < 6; ++i) {
        const qint64 unit = qint64(1) << (10 * (6 - i));
        if (bytes > 0 && bytes % unit == 0)
            return QStringLiteral("%1 %2").arg(bytes / unit).arg(QLatin1String(units[i]));
    }
    return QStringLiteral("%1 B").arg(bytes);
}

void printJson(const QJsonObject &object)
{
    print(QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact)));
}

} // namespace Ferry
