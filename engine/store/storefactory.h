#pragma once

#include "store/databaseconfig.h"
#include "store/store.h"

#include <memory>

namespace Ferry {

// Opens and migrates the store the configuration names.
Result<std::unique_ptr<Store>> openStore(const DatabaseConfig &config);

} // namespace Ferry
