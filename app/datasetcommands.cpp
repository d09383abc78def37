#include "datasetcommands.h"

#include "commandoutput.h"
#include "commands.h"
#include "enginehost.h"
#include "usercommands.h"

#include "datasets/datasetdetails.h"
#include "datasets/datasetjson.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>

#include <cstdio>

#include <unistd.h>

namespace Ferry {

namespace {

QString timeText(qint64 ms)
{
    return ms > 0 ? QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs)
                  : QStringLiteral("-");
}

Error noDataset(const User &user, const QString &name)
{
    return makeError(ErrorCode::NotFound,
                     QStringLiteral("%1 has no dataset named '%2'.").arg(user.name, name.left(80)),
                     QStringLiteral("List them with: ferry dataset list --user %1").arg(user.name));
}

int listDatasets(const User &user, EngineHost &host, bool json)
{
    auto datasets = host.store().datasets().datasets(user.id);
    if (!datasets)
        return fail(datasets.error());
    QJsonArray array;
    for (const DatasetInfo &d : std::as_const(*datasets)) {
        if (json)
            array.append(datasetJson(d));
        else
            print(QStringLiteral("%1\t%2 record%3\t%4\tupdated %5")
                      .arg(d.name)
                      .arg(d.records)
                      .arg(d.records == 1 ? QString() : QStringLiteral("s"))
                      .arg(d.key.isEmpty() ? QStringLiteral("no key")
                                           : QStringLiteral("key ") + d.key,
                           timeText(d.updatedAt)));
    }
    if (json)
        printJson({{QStringLiteral("datasets"), array}});
    else if (datasets->isEmpty())
        note(QStringLiteral("%1 has no datasets.").arg(user.name));
    return ExitOk;
}

int showDataset(const User &user, const QString &name, EngineHost &host, bool json)
{
    auto details = datasetDetails(host.store().datasets(), host.store(), user.id, name);
    if (!details)
        return fail(details.error());
    if (!details->has_value())
        return fail(noDataset(user, name));
    const DatasetDetails &d = **details;
    if (json) {
        printJson(datasetJson(d));
        return ExitOk;
    }
    // "id (integer), email, age (mixed: integer, string)": each column with its schema type.
    QStringList columns;
    for (const QJsonValue &c : datasetSchema(d.info)) {
        const QJsonObject field = c.toObject();
        QString text = field.value(u"name").toString();
        if (field.contains(u"types")) {
            QStringList types;
            for (const QJsonValue &t : field.value(u"types").toArray())
                types.append(t.toString());
            text += QStringLiteral(" (mixed: %1)").arg(types.join(QStringLiteral(", ")));
        } else if (field.contains(u"type")) {
            text += QStringLiteral(" (%1)").arg(field.value(u"type").toString());
        }
        columns.append(text);
    }
    print(QStringLiteral("dataset %1 of %2").arg(d.info.name, user.name));
    print(QStringLiteral("records: %1").arg(d.info.records));
    print(QStringLiteral("size: %1").arg(sizeText(d.sizeBytes)));
    print(
        QStringLiteral("key: %1").arg(d.info.key.isEmpty() ? QStringLiteral("none") : d.info.key));
    print(
        QStringLiteral("columns: %1")
            .arg(columns.isEmpty() ? QStringLiteral("none") : columns.join(QStringLiteral(", "))));
    print(QStringLiteral("created: %1").arg(timeText(d.info.createdAt)));
    print(QStringLiteral("updated: %1").arg(timeText(d.info.updatedAt)));
    print(QStringLiteral("imports (newest first, at most %1): %2")
              .arg(MaxDatasetImports)
              .arg(d.imports.size()));
    for (const DatasetImport &i : d.imports) {
        print(QStringLiteral("  job %1\t%2\t%3 imported, %4 rejected\tcreated %5\tfinished %6%7")
                  .arg(i.jobId)
                  .arg(jobStatusName(i.status))
                  .arg(i.rowsImported)
                  .arg(i.rowsRejected)
                  .arg(timeText(i.createdAt), timeText(i.finishedAt),
                       i.sessionId.isEmpty() ? QString()
                                             : QStringLiteral("\tsession ") + i.sessionId));
    }
    return ExitOk;
}

// Without --yes: asks on a terminal, refuses otherwise (a script must say it means it).
// ExitOk to go on; otherwise the exit code, the reason printed.
int confirmDelete(const CommandLine &cli, const QString &what)
{
    if (cli.isSet(QStringLiteral("yes")))
        return ExitOk;
    if (!isatty(fileno(stdin))) {
        return usage(QStringLiteral("dataset delete asks before it deletes, and standard input "
                                    "is not a terminal: add --yes to delete %1 without asking. "
                                    "Nothing was deleted.")
                         .arg(what));
    }
    std::fprintf(stderr, "Delete %s? This cannot be undone. [y/N] ", qPrintable(what));
    std::fflush(stderr);
    char answer[16] = {};
    if (!std::fgets(answer, sizeof answer, stdin))
        answer[0] = 0;
    const QString reply = QString::fromLatin1(answer).trimmed().toLower();
    if (reply == u"y" || reply == u"yes")
        return ExitOk;
    note(QStringLiteral("nothing deleted."));
    return ExitFailure;
}

int deleteDataset(
    const CommandLine &cli, const User &user, const QString &name, EngineHost &host, bool json)
{
    const DatasetDeleteScope scope = cli.isSet(QStringLiteral("records-only"))
                                         ? DatasetDeleteScope::Records
                                         : DatasetDeleteScope::Dataset;
    // What is about to go, for the question (and a missing dataset said before asking).
    auto dataset = validateDatasetName(name) ? host.store().datasets().dataset(user.id, name)
                                             : Result<std::optional<DatasetInfo>>(std::nullopt);
    if (!dataset)
        return fail(dataset.error());
    if (!dataset->has_value())
        return fail(noDataset(user, name));
    const qint64 records = (*dataset)->records;
    const QString what = scope == DatasetDeleteScope::Dataset
                             ? QStringLiteral("dataset %1 of %2 and its %3 records")
                                   .arg(name, user.name)
                                   .arg(records)
                             : QStringLiteral("the %1 records of dataset %2 of %3")
                                   .arg(records)
                                   .arg(name, user.name);
    if (const int refused = confirmDelete(cli, what); refused != ExitOk)
        return refused;
    auto deletion =
        host.store().datasets().deleteDataset(user.id, name, scope, host.clock().nowMs());
    if (!deletion)
        return fail(deletion.error());
    switch (deletion->outcome) {
    case DatasetDeletion::Outcome::NotFound:
        return fail(noDataset(user, name));
    case DatasetDeletion::Outcome::Busy:
        return fail(datasetBusy(name, *deletion));
    case DatasetDeletion::Outcome::Deleted:
        break;
    }
    if (json) {
        printJson(datasetDeletionJson(name, *deletion, scope));
    } else if (scope == DatasetDeleteScope::Dataset) {
        print(QStringLiteral("Deleted dataset %1 of %2 and its %3 records.")
                  .arg(name, user.name)
                  .arg(deletion->records));
    } else {
        print(QStringLiteral("Deleted the %1 records of dataset %2 of %3; its name and key stay.")
                  .arg(deletion->records)
                  .arg(name, user.name));
    }
    return ExitOk;
}

} // namespace

int datasetCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    const QString action = args.value(1);
    const bool json = cli.isSet(QStringLiteral("json"));
    if (cli.isSet(QStringLiteral("records-only")) && action != u"delete")
        return usage(QStringLiteral("--records-only is an option of dataset delete."));
    auto user = namedUser(host, cli.value(QStringLiteral("user")));
    if (!user)
        return fail(user.error());
    if (action == u"list")
        return listDatasets(*user, host, json);
    if (action == u"show")
        return showDataset(*user, args.at(2), host, json);
    if (action == u"delete")
        return deleteDataset(cli, *user, args.at(2), host, json);
    return usage(
        QStringLiteral("unknown dataset action '%1' (use list, show or delete).").arg(action));
}

} // namespace Ferry
