#include "datasetjson.h"

#include <QJsonArray>

namespace Ferry {

namespace {

QJsonValue orNull(const QString &text)
{
    return text.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(text);
}

} // namespace

QJsonObject datasetJson(const DatasetInfo &d)
{
    return {{QStringLiteral("name"), d.name},
            {QStringLiteral("records"), d.records},
            {QStringLiteral("columns"), d.columns},
            {QStringLiteral("key"), orNull(d.key)},
            {QStringLiteral("schema"), datasetSchema(d)},
            {QStringLiteral("createdAt"), d.createdAt},
            {QStringLiteral("updatedAt"), d.updatedAt}};
}

QJsonObject datasetJson(const DatasetDetails &details)
{
    QJsonObject object = datasetJson(details.info);
    object.insert(QStringLiteral("sizeBytes"), details.sizeBytes);
    QJsonArray imports;
    for (const DatasetImport &i : details.imports) {
        imports.append(QJsonObject{
            {QStringLiteral("jobId"), QString::number(i.jobId)},
            {QStringLiteral("sessionId"), orNull(i.sessionId)},
            {QStringLiteral("status"), jobStatusName(i.status)},
            {QStringLiteral("rowsImported"), i.rowsImported},
            {QStringLiteral("rowsRejected"), i.rowsRejected},
            {QStringLiteral("createdAt"), i.createdAt},
            {QStringLiteral("finishedAt"),
             i.finishedAt > 0 ? QJsonValue(i.finishedAt) : QJsonValue(QJsonValue::Null)}});
    }
    object.insert(QStringLiteral("imports"), imports);
    return object;
}

QJsonObject
datasetDeletionJson(const QString &name, const DatasetDeletion &deletion, DatasetDeleteScope scope)
{
    return {{QStringLiteral("name"), name},
            {QStringLiteral("recordsDeleted"), deletion.records},
            {QStringLiteral("datasetDeleted"), scope == DatasetDeleteScope::Dataset}};
}

} // namespace Ferry
