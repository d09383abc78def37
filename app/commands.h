#pragma once

#include "commandline.h"

#include <QProcessEnvironment>

namespace Ferry {

// Shell subcommands (user, quota, enqueue, import, export, dataset, job, status, pause, resume).
// They use the store directly and run no jobs, so they work beside a running engine. They load the
// configuration themselves, refuse extra arguments, and refuse a store that does not exist
// (only `user add` creates one; storecheck.h). Returns the process exit code.
int runCommand(const CommandLine &commandLine, const QProcessEnvironment &environment);

// Exit codes shared by every mode.
enum ExitCode { ExitOk = 0, ExitFailure = 1, ExitUsage = 2 };

} // namespace Ferry
