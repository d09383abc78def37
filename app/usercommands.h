#pragma once

#include "commandline.h"
#include "core/error.h"
#include "store/records.h"

namespace Ferry {

class EngineHost;

// ferry user add|list|disable|enable|token --rotate, and ferry quota set|show|list|reset. Their
// arguments were checked (commands.cpp, checkUsage).
int userCommand(const CommandLine &cli, EngineHost &host);
int quotaCommand(const CommandLine &cli, EngineHost &host);

// The user of that name; when there is none, the error names the store it looked in.
Result<User> namedUser(EngineHost &host, const QString &name);

} // namespace Ferry
