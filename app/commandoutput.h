#pragma once

#include "commands.h"
#include "core/error.h"

#include <QJsonObject>
#include <QString>

namespace Ferry {

// How shell commands speak: results to stdout (text or one JSON object per line), errors to
// stderr as "ferry: <message> <hint>", with the exit code to return.
void print(const QString &text);
void printJson(const QJsonObject &object);
int fail(const Error &error, int code = ExitFailure);
int usage(const QString &message);

} // namespace Ferry
