#pragma once

#include "commandline.h"
#include "config/ferryconfig.h"

namespace Ferry {

// Shell subcommands (user, enqueue, status, pause, resume). They use the store directly and
// run no jobs, so they work beside a running engine. Returns the process exit code.
int runCommand(const CommandLine &commandLine, const FerryConfig &config);

// Exit codes shared by every mode.
enum ExitCode { ExitOk = 0, ExitFailure = 1, ExitUsage = 2 };

} // namespace Ferry
