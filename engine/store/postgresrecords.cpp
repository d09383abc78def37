// PostgresStore: reading a dataset's records in id (insertion) order, for exports and the
// records API. Through libpq (postgresnative.h): each document is handed on as a view into the
// result, without a QVariant and a QString per value. SQLite's twins: sqliterecords.cpp's
// forEachRecord and sqlitejobsapi.cpp's recordPage.
#include "postgresstore.h"

#include "store/postgresnative.h"
#include "store/recordrange.h"

#include <algorithm>

namespace Ferry {

namespace {

const char s_page[] = "SELECT id, doc FROM records WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3";

} // namespace

Result<void> PostgresStore::forEachRecord(qint64 datasetId,
                                          const std::function<bool(std::string_view doc)> &sink)
{
    // Pages by id, each one statement of its own, so no transaction stays open while the sink
    // writes to a slow client.
    qint64 after = firstRecordId(datasetId);
    while (true) {
        PgResult page;
        {
            auto connection = PgConnection::of(m_pool);
            if (!connection)
                return connection.error();
            auto read =
                connection->exec(s_page, {pgInt(after), pgInt(lastRecordId(datasetId)), "1000"},
                                 QStringLiteral("exporting a dataset"));
            if (!read)
                return read.error();
            page = std::move(*read);
        }
        const int rows = page.rows();
        if (rows == 0)
            return {};
        for (int row = 0; row < rows; ++row) {
            if (!sink(page.text(row, 1)))
                return {};
        }
        after = page.int64(rows - 1, 0);
    }
}

Result<RecordPage> PostgresStore::recordPage(qint64 datasetId, qint64 afterId, int limit)
{
    auto connection = PgConnection::of(m_pool);
    if (!connection)
        return connection.error();
    auto read = connection->exec(s_page,
                                 {pgInt(std::max(afterId, firstRecordId(datasetId))),
                                  pgInt(lastRecordId(datasetId)), pgInt(std::max(limit, 1))},
                                 QStringLiteral("reading records of dataset %1").arg(datasetId));
    if (!read)
        return read.error();
    RecordPage page;
    const int rows = read->rows();
    page.docs.reserve(size_t(rows));
    for (int row = 0; row < rows; ++row)
        page.docs.emplace_back(read->text(row, 1));
    if (rows > 0)
        page.lastId = read->int64(rows - 1, 0);
    return page;
}

} // namespace Ferry
