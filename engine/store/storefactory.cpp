#include "storefactory.h"

#include "store/postgresstore.h"
#include "store/sqlitestore.h"

namespace Ferry {

Result<std::unique_ptr<Store>> openStore(const DatabaseConfig &config)
{
    if (config.backend == DatabaseConfig::Backend::Postgres) {
        // Several nodes on one database (docs/deployment.md).
        auto store = PostgresStore::open(config);
        if (!store)
            return store.error();
        return std::unique_ptr<Store>(std::move(*store));
    }
    auto store = SqliteStore::open(config);
    if (!store)
        return store.error();
    return std::unique_ptr<Store>(std::move(*store));
}

} // namespace Ferry
