#include "api/datasetroutes.h"

#include "datasets/datasetexportstream.h"

#include <QJsonArray>
#include <QLoggingCategory>

namespace Ferry {

namespace {

Q_LOGGING_CATEGORY(lcDatasetRoutes, "ferry.api.datasets")

} // namespace

DatasetRoutes::DatasetRoutes(Store &store) : m_store(store) {}

QList<ApiRoute> DatasetRoutes::routes()
{
    // Both read a dataset's record count (a range count): on the API's workers, not the
    // network thread. The export's pages are read by its stream producer (network thread).
    ApiRoute list;
    list.method = "GET";
    list.path = "/api/v1/datasets";
    list.offload = true;
    list.handle = [this](const ApiCall &call) { listDatasets(call); };
    ApiRoute records;
    records.method = "GET";
    records.path = "/api/v1/datasets/{name}/records";
    records.offload = true;
    records.handle = [this](const ApiCall &call) { exportRecords(call); };
    return {list, records};
}

// GET /api/v1/datasets (auth)
//   200 {"success": true, "datasets": [{"name", "records", "columns", "createdAt",
//   "updatedAt"}]}, by name.
void DatasetRoutes::listDatasets(const ApiCall &call)
{
    auto datasets = m_store.datasets().datasets(call.user().id);
    if (!datasets)
        return call.respond(Api::fromError(datasets.error()));
    QJsonArray list;
    for (const DatasetInfo &d : *datasets) {
        list.append(QJsonObject{{QStringLiteral("name"), d.name},
                                {QStringLiteral("records"), d.records},
                                {QStringLiteral("columns"), d.columns},
                                {QStringLiteral("createdAt"), d.createdAt},
                                {QStringLiteral("updatedAt"), d.updatedAt}});
    }
    call.respond(
        Api::json(200, {{QStringLiteral("success"), true}, {QStringLiteral("datasets"), list}}));
}

// GET /api/v1/datasets/{name}/records?format=ndjson|csv (auth)
//   200, streamed (chunked): application/x-ndjson (one document per line; the default) or
//   text/csv; charset=utf-8 (a header line, then one line per record), as an attachment
//   "<name>.ndjson" / "<name>.csv". 400 on another format; 404 when the caller has no such
//   dataset.
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
    Http::Response response;
    response.setHeader("Content-Type",
                       csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8");
    response.setHeader("Content-Disposition",
                       "attachment; filename=\"" + name.toUtf8() + (csv ? ".csv\"" : ".ndjson\""));
    // The producer runs on the network thread as the socket drains, one page of records per
    // call (see DatasetExportStream); it dies with the response when the client goes away.
    auto stream = std::make_shared<DatasetExportStream>(m_store, **dataset, format);
    response.stream = [stream, name]() -> std::optional<QByteArray> {
        std::optional<QByteArray> chunk = stream->next();
        if (!chunk && stream->error()) {
            // The status line went out already: the stream ends early, and the log says why.
            qCWarning(lcDatasetRoutes, "export of dataset %s stopped after %lld records: %s",
                      qPrintable(name), stream->recordsSent(),
                      qPrintable(stream->error()->toString()));
        }
        return chunk;
    };
    call.respond(std::move(response));
}

} // namespace Ferry
