#include "commandoutput.h"

#include <QJsonDocument>

#include <cstdio>

namespace Ferry {

void print(const QString &text)
{
    std::fputs(text.toUtf8().constData(), stdout);
    std::fputc('\n', stdout);
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

void printJson(const QJsonObject &object)
{
    print(QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact)));
}

} // namespace Ferry
