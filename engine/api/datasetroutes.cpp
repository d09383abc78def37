#include "api/datasetroutes.h"

#include "datasets/datasetexportstream.h"
#include "datasets/datasetjson.h"
#include "store/recordrange.h"

#include <QJsonArray>
#include <QLoggingCategory>
#include <QtConcurrent/QtConcurrentRun>

#include <atomic>

namespace Ferry {

namespace {

Q_LOGGING_CATEGORY(lcDatasetRoutes, "ferry.api.datasets")

// One HTTP export: its stream, read by one pool task at a time (the connection asks for the next
// chunk only once the last one came back).
struct ExportState
{
    ExportState(DatasetStore &datasets,
                DatasetInfo dataset,
                ExportFormat format,
                QStringList columns)
        : name(dataset.name), stream(datasets, std::move(dataset), format, std::move(columns))
    {}

    Http::StreamChunk nextChunk()
    {
        if (stopped.load())
            return Http::StreamChunk::end(); // the client is gone: nobody reads this
        std::optional<QByteArray> chunk = stream.next();
        if (chunk)
            return Http::StreamChunk::bytes(std::move(*chunk));
        if (!stream.error())
            return Http::StreamChunk::end();
        // The status line went out already: the connection is aborted without the last chunk,
        // so the client cannot take the truncated file for the whole one.
        qCWarning(lcDatasetRoutes,
                  "export of dataset %s failed after %lld records (the connection is aborted so "
                  "the client sees it incomplete): %s",
                  qPrintable(name), stream.recordsSent(), qPrintable(stream.error()->toString()));
        return Http::StreamChunk::failed();
    }

    QString name;
    DatasetExportStream stream;
    std::atomic<bool> stopped{false};
};

// Held by the response's producer: when the connection drops the producer (client gone, server
// stopping), the chunk being made is the last.
struct StopOnDrop
{
    explicit StopOnDrop(std::shared_ptr<ExportState> s) : state(std::move(s)) {}
    ~StopOnDrop() { state->stopped.store(true); }
    Q_DISABLE_COPY_MOVE(StopOnDrop)
    std::shared_ptr<ExportState> state;
};

// A page of records holds at most this many (GET .../records?format=json&limit=N).
constexpr int MaxPageRecords = 1000;
constexpr int DefaultPageRecords = 100;

// Names are [A-Za-z0-9_-]{1,64}: anything else cannot be one of the caller's datasets, and is a
// 404 like a name the caller has no dataset of.
Http::Response notFound(const QString &name)
{
    const bool valid = bool(validateDatasetName(name));
    return Api::error(
        404, "Not found",
        valid ? QStringLiteral("You have no dataset %1.").arg(name)
              : QStringLiteral("You have no dataset %1: dataset names are 1 to 64 letters, "
                               "digits, '_' or '-'.")
                    .arg(name.left(80)),
        "not_found");
}

// A whole number of at most 18 digits (no sign, no spaces), or nullopt.
std::optional<qint64> digits(const QString &text)
{
    if (text.isEmpty() || text.size() > 18)
        return std::nullopt;
    for (QChar c : text) {
        if (c < u'0' || c > u'9')
            return std::nullopt;
    }
    return text.toLongLong();
}

} // namespace

DatasetRoutes::DatasetRoutes(Store &store, const Clock &clock, DatasetRouteOptions options)
    : m_store(store), m_clock(clock), m_options(options)
{
    m_exportPool.setObjectName(QStringLiteral("ferry-export"));
    m_exportPool.setMaxThreadCount(qMax(1, options.exportThreads));
    m_exportPool.setExpiryTimeout(30'000);
}

DatasetRoutes::~DatasetRoutes()
{
    m_exportPool.waitForDone();
}

QList<ApiRoute> DatasetRoutes::routes()
{
    // All read or write the store: on the API's workers, not the network thread. The export's
    // chunks are made on the export pool, one in flight per response.
    auto route = [](const char *method, const char *path, auto handle,
                    QStringList queryParameters = {}) {
        ApiRoute r;
        r.method = method;
        r.path = path;
        r.offload = true;
        r.queryParameters = std::move(queryParameters);
        r.handle = std::move(handle);
        return r;
    };
    return {
        route("GET", "/api/v1/datasets", [this](const ApiCall &call) { listDatasets(call); }),
        route("GET", "/api/v1/datasets/{name}",
              [this](const ApiCall &call) { datasetDetails(call); }),
        route("GET", "/api/v1/datasets/{name}/records",
              [this](const ApiCall &call) { exportRecords(call); },
              {QStringLiteral("format"), QStringLiteral("limit"), QStringLiteral("after")}),
        route("DELETE", "/api/v1/datasets/{name}",
              [this](const ApiCall &call) { deleteDataset(call, DatasetDeleteScope::Dataset); }),
        route("DELETE", "/api/v1/datasets/{name}/records",
              [this](const ApiCall &call) { deleteDataset(call, DatasetDeleteScope::Records); }),
    };
}

// GET /api/v1/datasets (auth)
//   200 {"success": true, "datasets": [{"name", "records", "columns", "key", "schema",
//   "createdAt", "updatedAt"}]}, by name; key is null for a dataset without one. schema: the
//   columns in order, each {"name"} with "type" where a mapping gave one ("mixed" plus "types"
//   when imports gave it several; datasetSchema()).
void DatasetRoutes::listDatasets(const ApiCall &call)
{
    auto datasets = m_store.datasets().datasets(call.user().id);
    if (!datasets)
        return call.respond(Api::fromError(datasets.error()));
    QJsonArray list;
    for (const DatasetInfo &d : *datasets)
        list.append(datasetJson(d));
    call.respond(
        Api::json(200, {{QStringLiteral("success"), true}, {QStringLiteral("datasets"), list}}));
}

// GET /api/v1/datasets/{name} (auth)
//   200 {"success": true, "dataset": {"name", "records", "columns", "key", "schema", "createdAt",
//   "updatedAt", "sizeBytes", "imports": [...]}}: the list's entry, the bytes of its stored JSON
//   documents, and the migrations that wrote it, newest first, at most 50 (datasetJson).
//   404 when the caller has no such dataset (another user's included).
void DatasetRoutes::datasetDetails(const ApiCall &call)
{
    const QString name = QString::fromUtf8(call.param(0));
    auto details = Ferry::datasetDetails(m_store.datasets(), m_store, call.user().id, name);
    if (!details)
        return call.respond(Api::fromError(details.error()));
    if (!details->has_value())
        return call.respond(notFound(name));
    call.respond(Api::json(200, {{QStringLiteral("success"), true},
                                 {QStringLiteral("dataset"), datasetJson(**details)}}));
}

// GET /api/v1/datasets/{name}/records?format=ndjson|csv (auth)
//   200, streamed (chunked): application/x-ndjson (one document per line; the default) or
//   text/csv; charset=utf-8 (a header line, then one line per record), as an attachment
//   "<name>.ndjson" / "<name>.csv". CSV columns: the dataset's stored columns, then every other
//   top-level key of its records (a first pass over all of them, before the status line).
//   400 on another format, or limit/after without format=json; 404 when the caller has no such
//   dataset; 422 "too_many_columns" when a CSV export would have more than maxCsvColumns
//   columns. A read error after the status line aborts the connection (no last chunk): the
//   client sees the export failed.
// GET /api/v1/datasets/{name}/records?format=json[&limit=N][&after=CURSOR]: one page (see
//   pageRecords).
void DatasetRoutes::exportRecords(const ApiCall &call)
{
    ExportFormat format = ExportFormat::Ndjson;
    bool page = false;
    if (call.hasQuery(QStringLiteral("format"))) {
        const QString name = call.query(QStringLiteral("format"));
        if (name == QStringLiteral("csv")) {
            format = ExportFormat::Csv;
        } else if (name == QStringLiteral("json")) {
            page = true;
        } else if (name != QStringLiteral("ndjson")) {
            return call.respond(Api::error(400, "Bad request",
                                           QStringLiteral("format must be ndjson, csv or json "
                                                          "(json: a page of records, with limit "
                                                          "and after)."),
                                           "invalid_parameter"));
        }
    }
    if (!page &&
        (call.hasQuery(QStringLiteral("limit")) || call.hasQuery(QStringLiteral("after")))) {
        return call.respond(Api::error(
            400, "Bad request",
            QStringLiteral("limit and after page through the records with format=json; an "
                           "ndjson or csv export is the whole dataset. Add format=json."),
            "invalid_parameter"));
    }
    const QString name = QString::fromUtf8(call.param(0));
    if (!validateDatasetName(name))
        return call.respond(notFound(name));
    auto dataset = m_store.datasets().dataset(call.user().id, name);
    if (!dataset)
        return call.respond(Api::fromError(dataset.error()));
    if (!dataset->has_value())
        return call.respond(notFound(name));
    if (page)
        return pageRecords(call, **dataset);

    const bool csv = format == ExportFormat::Csv;
    QStringList columns;
    if (csv) {
        // On this worker, before the status line: a dataset too wide for CSV gets a clear 422.
        auto scan = scanCsvColumns(m_store.datasets(), **dataset, m_options.maxCsvColumns,
                                   [&call] { return call.clientGone(); });
        if (!scan)
            return call.respond(Api::fromError(scan.error()));
        if (scan->stopped) {
            return call.respond(Api::error(503, "Export stopped",
                                           QStringLiteral("The client closed the connection."),
                                           "client_gone"));
        }
        if (scan->tooMany) {
            const Error error = tooManyCsvColumns(m_options.maxCsvColumns);
            return call.respond(
                Api::error(422, "Too many columns", error.toString(), "too_many_columns"));
        }
        columns = std::move(scan->columns);
    }
    Http::Response response;
    response.setHeader("Content-Type",
                       csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8");
    response.setHeader("Content-Disposition",
                       "attachment; filename=\"" + name.toUtf8() + (csv ? ".csv\"" : ".ndjson\""));
    // Each chunk is read and formatted by a task on the export pool and handed back to the
    // connection, which asks for the next one as the socket drains (Http::ResponseStream).
    auto state =
        std::make_shared<ExportState>(m_store.datasets(), **dataset, format, std::move(columns));
    auto guard = std::make_shared<StopOnDrop>(state);
    response.stream = [state, guard, pool = &m_exportPool]() -> QFuture<Http::StreamChunk> {
        return QtConcurrent::run(pool, [state] { return state->nextChunk(); });
    };
    call.respond(std::move(response));
}

// GET /api/v1/datasets/{name}/records?format=json[&limit=N][&after=CURSOR] (auth)
//   200 {"success": true, "records": [<document>, ...], "next": "<cursor>" | null}: up to limit
//   records (1 to 1000, default 100) in insertion order, after the cursor (the "next" of the
//   previous page; none: from the first). next is null on the last page. The cursor is the last
//   record's position: records written meanwhile come later, none is seen twice. 400
//   "invalid_limit", "invalid_cursor" (not a cursor of this dataset).
void DatasetRoutes::pageRecords(const ApiCall &call, const DatasetInfo &dataset)
{
    int limit = DefaultPageRecords;
    if (call.hasQuery(QStringLiteral("limit"))) {
        const auto value = digits(call.query(QStringLiteral("limit")));
        if (!value || *value < 1 || *value > MaxPageRecords) {
            return call.respond(Api::error(
                400, "Bad request",
                QStringLiteral("limit must be a whole number from 1 to %1.").arg(MaxPageRecords),
                "invalid_limit"));
        }
        limit = int(*value);
    }
    qint64 after = 0;
    if (call.hasQuery(QStringLiteral("after"))) {
        // A record id of this dataset's range: a cursor of another dataset (or user) is refused,
        // not read from.
        const auto value = digits(call.query(QStringLiteral("after")));
        if (!value || *value <= firstRecordId(dataset.id) || *value > lastRecordId(dataset.id)) {
            return call.respond(Api::error(
                400, "Bad request",
                QStringLiteral("after must be the \"next\" cursor of a previous page of dataset "
                               "%1, as returned. Leave it out for the first page.")
                    .arg(dataset.name),
                "invalid_cursor"));
        }
        after = *value;
    }
    // An indexed range scan of limit records from the cursor, whatever the page's depth; a full
    // page asks for one more record to know whether another page follows.
    auto page = m_store.datasets().recordPage(dataset.id, after, limit);
    if (!page)
        return call.respond(Api::fromError(page.error()));
    bool more = false;
    if (qsizetype(page->docs.size()) == limit) {
        auto probe = m_store.datasets().recordPage(dataset.id, page->lastId, 1);
        if (!probe)
            return call.respond(Api::fromError(probe.error()));
        more = !probe->docs.empty();
    }
    // The documents as stored (JSON text written by the import), not re-encoded: numbers keep
    // their digits.
    size_t bytes = 64;
    for (const std::string &doc : page->docs)
        bytes += doc.size() + 1;
    QByteArray body;
    body.reserve(qsizetype(bytes));
    body += "{\"success\":true,\"records\":[";
    for (size_t i = 0; i < page->docs.size(); ++i) {
        if (i)
            body += ',';
        body.append(page->docs[i].data(), qsizetype(page->docs[i].size()));
    }
    body += "],\"next\":";
    if (more)
        body += '"' + QByteArray::number(page->lastId) + '"';
    else
        body += "null";
    body += '}';
    call.respond(Api::jsonText(200, std::move(body)));
}

// DELETE /api/v1/datasets/{name} (auth): the dataset, its records and its metadata.
// DELETE /api/v1/datasets/{name}/records (auth): its records only; name, key and createdAt stay,
//   columns are emptied (the next import sets them), updatedAt is now.
//   200 {"success": true, "name", "recordsDeleted", "datasetDeleted"}; one transaction.
//   404 when the caller has no such dataset. 409 "dataset_busy" with "jobId" and "jobStatus"
//   while a migration into it is pending or running, or ended with its undo not run yet:
//   nothing is deleted.
void DatasetRoutes::deleteDataset(const ApiCall &call, DatasetDeleteScope scope)
{
    const QString name = QString::fromUtf8(call.param(0));
    if (!validateDatasetName(name))
        return call.respond(notFound(name));
    auto deletion = m_store.datasets().deleteDataset(call.user().id, name, scope, m_clock.nowMs());
    if (!deletion)
        return call.respond(Api::fromError(deletion.error()));
    switch (deletion->outcome) {
    case DatasetDeletion::Outcome::NotFound:
        return call.respond(notFound(name));
    case DatasetDeletion::Outcome::Busy: {
        const Error busy = datasetBusy(name, *deletion);
        return call.respond(
            Api::json(409, {{QStringLiteral("success"), false},
                            {QStringLiteral("error"), QStringLiteral("Conflict")},
                            {QStringLiteral("message"), busy.toString()},
                            {QStringLiteral("code"), QStringLiteral("dataset_busy")},
                            {QStringLiteral("jobId"), QString::number(deletion->busyJobId)},
                            {QStringLiteral("jobStatus"), deletion->busyJobStatus}}));
    }
    case DatasetDeletion::Outcome::Deleted:
        break;
    }
    QJsonObject body = datasetDeletionJson(name, *deletion, scope);
    body.insert(QStringLiteral("success"), true);
    call.respond(Api::json(200, body));
}

} // namespace Ferry
