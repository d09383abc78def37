// PostgresStore: reading a dataset's records in id (insertion) order, for exports and the
// records API. Through libpq (postgresnative.h), without a QVariant and a QString per value. The
// documents are jsonb (0017_records_jsonb.sql); each is handed on compact, as Ferry wrote it and
// SQLite returns it (jsonbtext.h). SQLite's twins: sqliterecords.cpp's forEachRecord and
// sqlitejobsapi.cpp's recordPage.
#include "postgresstore.h"

#include "store/jsonbtext.h"
#include "store/postgresnative.h"
#include "store/recordrange.h"

#include <algorithm>

namespace Ferry {

namespace {

const char s_page[] = "SELECT id, doc FROM records WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3";

} // namespace

// Each page of the dataset's documents as PostgreSQL prints them, to `printed`, until it says
// stop (false).
Result<void> PostgresStore::forEachPrinted(qint64 datasetId,
                                           const std::function<bool(std::string_view)> &printed)
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
            if (!printed(page.text(row, 1)))
                return {};
        }
        after = page.int64(rows - 1, 0);
    }
}

Result<void> PostgresStore::forEachRecord(qint64 datasetId,
                                          const std::function<bool(std::string_view doc)> &sink)
{
    std::string doc;
    return forEachPrinted(datasetId, [&](std::string_view printed) {
        doc.clear();
        appendCompactJsonb(doc, printed);
        return sink(doc);
    });
}

Result<qint64> PostgresStore::datasetBytes(qint64 datasetId)
{
    // A pass over the documents on this side: the server has no compact text of a jsonb value to
    // measure (octet_length(doc::text) counts the spaces jsonb_out adds).
    qint64 bytes = 0;
    auto counted = forEachPrinted(datasetId, [&](std::string_view printed) {
        bytes += qint64(compactJsonbSize(printed));
        return true;
    });
    if (!counted)
        return counted.error();
    return bytes;
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
        appendCompactJsonb(page.docs.emplace_back(), read->text(row, 1));
    if (rows > 0)
        page.lastId = read->int64(rows - 1, 0);
    return page;
}

} // namespace Ferry
