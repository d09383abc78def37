#pragma once

#include "config/ferryconfig.h"
#include "core/error.h"

namespace Ferry {

// Shell commands work on a store that exists: a mistyped --data-dir or --db must be refused, not
// quietly become a new empty store. Only the engine (`ferry`, `ferry --headless`) and
// `ferry user add` (the README's first step, before any engine has run) create one.

// The store for messages: the SQLite file, or the PostgreSQL URL without its password.
QString storeLocation(const DatabaseConfig &database);

// false when there is no store yet: the SQLite file (or the data directory) is missing, or the
// PostgreSQL database has no Ferry schema. An error when the server cannot be reached.
Result<bool> storeExists(const FerryConfig &config);

// The refusal for a store that does not exist: names it and says how to create one.
Error missingStore(const FerryConfig &config);

} // namespace Ferry
