#include "storefactory.h"

#include "store/sqlitestore.h"

namespace Ferry {

Result<std::unique_ptr<Store>> openStore(const DatabaseConfig &config)
{
    if (config.backend == DatabaseConfig::Backend::Postgres) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("PostgreSQL storage is not available in this build yet."),
                         QStringLiteral("Omit --db to use the embedded SQLite store."));
    }
    auto store = SqliteStore::open(config);
    if (!store)
        return store.error();
    return std::unique_ptr<Store>(std::move(*store));
}

} // namespace Ferry
