#pragma once

#include "commandline.h"

namespace Ferry {

class EngineHost;

// ferry user add|list|disable|enable|token --rotate, and ferry quota set|show|list|reset.
int userCommand(const CommandLine &cli, EngineHost &host);
int quotaCommand(const CommandLine &cli, EngineHost &host);

} // namespace Ferry
