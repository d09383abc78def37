// SqliteStore: reading a dataset's records in id (insertion) order, for exports. Through SQLite's
// C API (sqlitenative.h): each document is handed on as a view into a page read at once, without
// a QVariant and a QString per value. PostgreSQL's twin is postgresrecords.cpp (libpq).
#include "sqlitestore.h"

#include "store/recordrange.h"
#include "store/sqlitenative.h"

namespace Ferry {

Result<void> SqliteStore::forEachRecord(qint64 datasetId,
                                        const std::function<bool(std::string_view doc)> &sink)
{
    // Pages by id, so no read transaction stays open while the sink writes to a slow client.
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    auto page = (*native)->prepare(QStringLiteral(
        "SELECT id, doc FROM records WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT 1000"));
    if (!page)
        return page.error();
    qint64 after = firstRecordId(datasetId);
    std::vector<std::string> docs;
    while (true) {
        docs.clear();
        {
            NativeStatement q(*page);
            q.bind(1, after).bind(2, lastRecordId(datasetId));
            while (q.step()) {
                after = q.int64(0);
                docs.emplace_back(q.utf8(1));
            }
            if (q.failed())
                return q.error(QStringLiteral("exporting a dataset"));
        }
        if (docs.empty())
            return {};
        for (const std::string &doc : docs) {
            if (!sink(doc))
                return {};
        }
    }
}

} // namespace Ferry
