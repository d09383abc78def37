#include "commands.h"

#include "commandoutput.h"
#include "usercommands.h"

#include "datasets/datasetexport.h"
#include "enginehost.h"
#include "migrate/migrationrequest.h"

#include <QFile>
#include <QFileInfo>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace Ferry {

namespace {

Result<User> commandUser(const CommandLine &cli, EngineHost &host)
{
    return cli.isSet(QStringLiteral("user"))
               ? host.users().findByName(cli.value(QStringLiteral("user")))
               : host.users().operatorUser();
}

int enqueueCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    if (args.size() != 2)
        return usage(QStringLiteral("enqueue takes one job TYPE."));
    bool ok = false;
    const int count = cli.value(QStringLiteral("count")).toInt(&ok);
    if (!ok || count < 1 || count > 10'000'000)
        return usage(QStringLiteral("--count must be a whole number from 1 to 10000000."));
    const int priority = cli.value(QStringLiteral("priority")).toInt(&ok);
    if (!ok)
        return usage(QStringLiteral("--priority must be a whole number from -100 to 100."));
    QJsonParseError parseError;
    const QJsonDocument payload =
        QJsonDocument::fromJson(cli.value(QStringLiteral("payload")).toUtf8(), &parseError);
    if (parseError.error != QJsonParseError::NoError || !payload.isObject())
        return usage(QStringLiteral("--payload must be a JSON object, e.g. '{\"ms\": 200}'."));
    auto user = commandUser(cli, host);
    if (!user)
        return fail(user.error());

    NewJob job;
    job.userId = user->id;
    job.type = args.at(1);
    job.payload = payload.object();
    job.priority = priority;
    constexpr int Chunk = 10'000; // bounded memory and transaction size for big counts
    qint64 first = 0, last = 0;
    for (int done = 0; done < count; done += Chunk) {
        QList<NewJob> batch(qMin(Chunk, count - done), job);
        auto enqueued = host.queue().enqueueBatch(batch);
        if (!enqueued)
            return fail(enqueued.error(), enqueued.error().code == ErrorCode::InvalidArgument
                                              ? ExitUsage
                                              : ExitFailure);
        if (done == 0)
            first = enqueued->first().id;
        last = enqueued->last().id;
    }
    if (cli.isSet(QStringLiteral("json")))
        printJson({{QStringLiteral("enqueued"), count},
                   {QStringLiteral("firstId"), double(first)},
                   {QStringLiteral("lastId"), double(last)}});
    else
        print(QStringLiteral("Enqueued %1 %2 job(s): ids %3..%4.")
                  .arg(count)
                  .arg(job.type)
                  .arg(first)
                  .arg(last));
    return ExitOk;
}

int importCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    if (args.size() != 2)
        return usage(QStringLiteral("import takes one FILE."));
    if (!cli.isSet(QStringLiteral("dataset")))
        return usage(QStringLiteral("import needs --dataset NAME."));
    QFile file(args.at(1));
    if (!file.open(QIODevice::ReadOnly))
        return fail(
            makeError(ErrorCode::InvalidArgument,
                      QStringLiteral("Cannot read %1: %2").arg(args.at(1), file.errorString())),
            ExitUsage);
    auto user = commandUser(cli, host);
    if (!user)
        return fail(user.error());
    MigrationRequest request;
    request.userId = user->id;
    request.fileName = QFileInfo(file).fileName();
    request.format = cli.value(QStringLiteral("format"));
    request.dataset = cli.value(QStringLiteral("dataset"));
    request.key = cli.value(QStringLiteral("key"));
    request.delimiter = cli.value(QStringLiteral("delimiter"));
    if (cli.isSet(QStringLiteral("no-header")))
        request.header = false;
    bool ok = false;
    request.priority = cli.value(QStringLiteral("priority")).toInt(&ok);
    if (!ok)
        return usage(QStringLiteral("--priority must be a whole number from -100 to 100."));
    if (cli.isSet(QStringLiteral("mapping"))) {
        QByteArray text = cli.value(QStringLiteral("mapping")).toUtf8();
        if (text.startsWith('@')) {
            QFile mappingFile(QString::fromUtf8(text.mid(1)));
            if (!mappingFile.open(QIODevice::ReadOnly))
                return usage(
                    QStringLiteral("Cannot read the mapping file %1.").arg(mappingFile.fileName()));
            text = mappingFile.readAll();
        }
        QJsonParseError error;
        const QJsonDocument mapping = QJsonDocument::fromJson(text, &error);
        if (error.error != QJsonParseError::NoError)
            return usage(QStringLiteral("--mapping is not JSON: %1.").arg(error.errorString()));
        request.mapping = mapping.object();
    }
    auto submitted =
        submitMigration(host.queue(), host.blobs(), host.clock(), request, file, file.size());
    if (!submitted)
        return fail(submitted.error(),
                    submitted.error().code == ErrorCode::InvalidArgument ? ExitUsage : ExitFailure);
    if (cli.isSet(QStringLiteral("json"))) {
        printJson({{QStringLiteral("sessionId"), submitted->sessionId},
                   {QStringLiteral("jobId"), double(submitted->jobId)},
                   {QStringLiteral("format"), submitted->format},
                   {QStringLiteral("bytes"), double(submitted->blob.size)}});
    } else {
        print(QStringLiteral("Queued job %1 (session %2): %3 as %4 into dataset %5.")
                  .arg(submitted->jobId)
                  .arg(submitted->sessionId, request.fileName, submitted->format, request.dataset));
    }
    return ExitOk;
}

int exportCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    if (args.size() != 2)
        return usage(QStringLiteral("export takes one DATASET."));
    const QString format = cli.value(QStringLiteral("format")).isEmpty()
                               ? QStringLiteral("ndjson")
                               : cli.value(QStringLiteral("format"));
    if (format != u"ndjson" && format != u"csv")
        return usage(QStringLiteral("export --format must be ndjson or csv."));
    auto user = commandUser(cli, host);
    if (!user)
        return fail(user.error());
    auto dataset = host.store().datasets().dataset(user->id, args.at(1));
    if (!dataset)
        return fail(dataset.error());
    if (!dataset->has_value())
        return fail(makeError(
            ErrorCode::NotFound,
            QStringLiteral("%1 has no dataset named '%2'.").arg(user->name, args.at(1).left(80))));
    QFile out;
    if (!out.open(stdout, QIODevice::WriteOnly))
        return fail(
            makeError(ErrorCode::Internal, QStringLiteral("Cannot write to standard output.")));
    auto exported = exportDataset(host.store().datasets(), **dataset,
                                  format == u"csv" ? ExportFormat::Csv : ExportFormat::Ndjson,
                                  [&](QByteArrayView bytes) {
                                      return out.write(bytes.data(), bytes.size()) == bytes.size();
                                  });
    out.flush();
    return exported ? ExitOk : fail(exported.error());
}

int jobCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    bool ok = false;
    const qint64 id = args.value(1).toLongLong(&ok);
    if (args.size() != 2 || !ok)
        return usage(QStringLiteral("job takes one numeric job ID."));
    auto job = host.store().job(id, std::nullopt);
    if (!job)
        return fail(job.error());
    if (!job->has_value())
        return fail(makeError(ErrorCode::NotFound, QStringLiteral("Job %1 not found.").arg(id)));
    const Job &j = **job;
    auto attempts = host.store().attempts(id);
    auto errors = host.store().datasets().rowErrors(id, 100);
    if (!attempts || !errors)
        return fail(!attempts ? attempts.error() : errors.error());
    QJsonArray attemptList, errorList;
    for (const JobAttempt &a : std::as_const(*attempts)) {
        attemptList.append(QJsonObject{{QStringLiteral("attempt"), a.attempt},
                                       {QStringLiteral("outcome"), a.outcome},
                                       {QStringLiteral("startedAt"), double(a.startedAt)},
                                       {QStringLiteral("finishedAt"), double(a.finishedAt)},
                                       {QStringLiteral("error"), a.error}});
    }
    for (const RowError &e : std::as_const(*errors)) {
        errorList.append(QJsonObject{{QStringLiteral("line"), double(e.line)},
                                     {QStringLiteral("field"), e.field},
                                     {QStringLiteral("reason"), e.reason}});
    }
    const QJsonObject object{{QStringLiteral("id"), double(j.id)},
                             {QStringLiteral("type"), j.type},
                             {QStringLiteral("status"), jobStatusName(j.status)},
                             {QStringLiteral("priority"), j.priority},
                             {QStringLiteral("attempts"), j.attempts},
                             {QStringLiteral("maxAttempts"), j.maxAttempts},
                             {QStringLiteral("sessionId"), j.sessionId},
                             {QStringLiteral("progress"), j.progress},
                             {QStringLiteral("error"), j.error},
                             {QStringLiteral("result"), j.result},
                             {QStringLiteral("attemptHistory"), attemptList},
                             {QStringLiteral("rowErrors"), errorList}};
    if (cli.isSet(QStringLiteral("json"))) {
        printJson(object);
        return ExitOk;
    }
    print(QStringLiteral("job %1 (%2): %3, attempt %4 of %5")
              .arg(j.id)
              .arg(j.type, jobStatusName(j.status))
              .arg(j.attempts)
              .arg(j.maxAttempts));
    if (!j.error.isEmpty())
        print(QStringLiteral("error: ") + j.error);
    if (!j.result.isEmpty())
        print(QStringLiteral("result: ") +
              QString::fromUtf8(QJsonDocument(j.result).toJson(QJsonDocument::Compact)));
    for (const RowError &e : std::as_const(*errors))
        print(QStringLiteral("line %1%2: %3")
                  .arg(e.line)
                  .arg(e.field.isEmpty() ? QString() : QStringLiteral(", field ") + e.field,
                       e.reason));
    return ExitOk;
}

int statusCommand(const CommandLine &cli, EngineHost &host)
{
    auto counts = host.store().countByStatus();
    if (!counts)
        return fail(counts.error());
    QJsonObject object;
    for (int s = int(JobStatus::Pending); s <= int(JobStatus::Dead); ++s)
        object.insert(jobStatusName(JobStatus(s)), double(counts->value(JobStatus(s))));
    object.insert(QStringLiteral("paused"), host.queue().isPaused());
    if (cli.isSet(QStringLiteral("json"))) {
        printJson(object);
    } else {
        for (auto it = object.constBegin(); it != object.constEnd(); ++it)
            print(QStringLiteral("%1\t%2").arg(it.key(), it.value().toVariant().toString()));
    }
    return ExitOk;
}

} // namespace

int runCommand(const CommandLine &cli, const FerryConfig &config)
{
    const QString command = cli.positional().value(0);
    static const QStringList known{
        QStringLiteral("user"),   QStringLiteral("quota"),  QStringLiteral("enqueue"),
        QStringLiteral("import"), QStringLiteral("export"), QStringLiteral("job"),
        QStringLiteral("status"), QStringLiteral("pause"),  QStringLiteral("resume")};
    if (!known.contains(command))
        return usage(QStringLiteral("unknown command '%1'.").arg(command));
    auto host = EngineHost::create(config, EngineHost::Role::Tool);
    if (!host)
        return fail(host.error());
    if (command == u"user")
        return userCommand(cli, **host);
    if (command == u"quota")
        return quotaCommand(cli, **host);
    if (command == u"enqueue")
        return enqueueCommand(cli, **host);
    if (command == u"status")
        return statusCommand(cli, **host);
    if (command == u"import")
        return importCommand(cli, **host);
    if (command == u"export")
        return exportCommand(cli, **host);
    if (command == u"job")
        return jobCommand(cli, **host);
    const bool pause = command == u"pause";
    if (auto done = (*host)->queue().setPaused(pause); !done)
        return fail(done.error());
    print(pause ? QStringLiteral("Queue paused: running jobs finish, nothing new starts.")
                : QStringLiteral("Queue resumed."));
    return ExitOk;
}

} // namespace Ferry
