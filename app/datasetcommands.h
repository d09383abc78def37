#pragma once

#include "commandline.h"

namespace Ferry {

class EngineHost;

// ferry dataset list|show|delete --user NAME: a user's datasets, one with its size and imports,
// and deleting one (or its records) as DELETE /api/v1/datasets/{name}[/records] does, with the
// same refusals. Their arguments were checked (commands.cpp, checkUsage).
int datasetCommand(const CommandLine &cli, EngineHost &host);

} // namespace Ferry
