#include "api/datasetroutes.h"

#include "datasets/datasetexportstream.h"

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
    ExportState(Store &store, DatasetInfo dataset, ExportFormat format, QStringList columns)
        : name(dataset.name), stream(store, std::move(dataset), format, std::move(columns))
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

} // namespace

DatasetRoutes::DatasetRoutes(Store &store, DatasetRouteOptions options)
    : m_store(store), m_options(options)
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
    // Both read the store: on the API's workers, not the network thread. The export's chunks
    // are made on the export pool, one in flight per response.
    ApiRoute list;
    list.method = "GET";
    list.path = "/api/v1/datasets";
    list.offload = true;
    list.handle = [this](const ApiCall &call) { listDatasets(call); };
    ApiRoute records;
    records.method = "GET";
    records.path = "/api/v1/datasets/{name}/records";
    records.offload = true;
    records.queryParameters = {QStringLiteral("format")};
    records.handle = [this](const ApiCall &call) { exportRecords(call); };
    return {list, records};
}

// GET /api/v1/datasets (auth)
//   200 {"success": true, "datasets": [{"name", "records", "columns", "key", "createdAt",
//   "updatedAt"}]}, by name; key is null for a dataset without one.
void DatasetRoutes::listDatasets(const ApiCall &call)
{
    auto datasets = m_store.datasets().datasets(call.user().id);
    if (!datasets)
        return call.respond(Api::fromError(datasets.error()));
    QJsonArray list;
    for (const DatasetInfo &d : *datasets) {
        list.append(
            QJsonObject{{QStringLiteral("name"), d.name},
                        {QStringLiteral("records"), d.records},
                        {QStringLiteral("columns"), d.columns},
                        {QStringLiteral("key"),
                         d.key.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(d.key)},
                        {QStringLiteral("createdAt"), d.createdAt},
                        {QStringLiteral("updatedAt"), d.updatedAt}});
    }
    call.respond(
        Api::json(200, {{QStringLiteral("success"), true}, {QStringLiteral("datasets"), list}}));
}

// GET /api/v1/datasets/{name}/records?format=ndjson|csv (auth)
//   200, streamed (chunked): application/x-ndjson (one document per line; the default) or
//   text/csv; charset=utf-8 (a header line, then one line per record), as an attachment
//   "<name>.ndjson" / "<name>.csv". CSV columns: the dataset's stored columns, then every other
//   top-level key of its records (a first pass over all of them, before the status line).
//   400 on another format; 404 when the caller has no such dataset; 422 "too_many_columns" when
//   a CSV export would have more than maxCsvColumns columns. A read error after the status line
//   aborts the connection (no last chunk): the client sees the export failed.
void DatasetRoutes::exportRecords(const ApiCall &call)
{
    ExportFormat format = ExportFormat::Ndjson;
    if (call.hasQuery(QStringLiteral("format"))) {
        const QString name = call.query(QStringLiteral("format"));
        if (name == QStringLiteral("csv")) {
            format = ExportFormat::Csv;
        } else if (name != QStringLiteral("ndjson")) {
            return call.respond(Api::error(400, "Bad request",
                                           QStringLiteral("format must be ndjson or csv."),
                                           "invalid_parameter"));
        }
    }
    const QString name = QString::fromUtf8(call.param(0));
    auto missing = [&] {
        call.respond(Api::error(404, "Not found",
                                QStringLiteral("You have no dataset %1.").arg(name.left(80)),
                                "not_found"));
    };
    // Names are [A-Za-z0-9_-]{1,64}: anything else cannot be one of the caller's datasets.
    if (!validateDatasetName(name))
        return missing();
    auto dataset = m_store.datasets().dataset(call.user().id, name);
    if (!dataset)
        return call.respond(Api::fromError(dataset.error()));
    if (!dataset->has_value())
        return missing();

    const bool csv = format == ExportFormat::Csv;
    QStringList columns;
    if (csv) {
        // On this worker, before the status line: a dataset too wide for CSV gets a clear 422.
        auto scan = scanCsvColumns(m_store, **dataset, m_options.maxCsvColumns,
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
    auto state = std::make_shared<ExportState>(m_store, **dataset, format, std::move(columns));
    auto guard = std::make_shared<StopOnDrop>(state);
    response.stream = [state, guard, pool = &m_exportPool]() -> QFuture<Http::StreamChunk> {
        return QtConcurrent::run(pool, [state] { return state->nextChunk(); });
    };
    call.respond(std::move(response));
}

} // namespace Ferry
