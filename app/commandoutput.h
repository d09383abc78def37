#pragma once

#include "commands.h"
#include "core/error.h"

#include <QJsonObject>
#include <QString>

namespace Ferry {

// How shell commands speak: results to stdout (text, or with --json exactly one JSON document
// per command, in the HTTP API's shapes), errors to stderr as "ferry: <message> <hint>", with
// the exit code to return.
void print(const QString &text);
void printJson(const QJsonObject &object);
// The exit code follows the error: 2 (ExitUsage) for what the caller can fix in the command
// (InvalidArgument, Config), 1 for the rest; code overrides it.
int fail(const Error &error);
int fail(const Error &error, int code);
int usage(const QString &message);
// Something the user should know that is not the result (stderr, so --json output stays one
// document): "ferry: <text>".
void note(const QString &text);

// A byte count as people write it: "5 GiB", "512 MiB", "1 KiB"; the exact "1500 B" when it is
// not a whole number of a unit. --json output keeps bytes as numbers.
QString sizeText(qint64 bytes);

} // namespace Ferry
