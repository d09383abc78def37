#include "commands.h"

#include "commandoutput.h"
#include "datasetcommands.h"
#include "usercommands.h"

#include "api/jobjson.h"
#include "config/configloader.h"
#include "datasets/datasetexport.h"
#include "enginehost.h"
#include "migrate/migrationrequest.h"
#include "storecheck.h"

#include <QFile>
#include <QFileInfo>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cstdio>

namespace Ferry {

namespace {

// What each command takes: its positional words (the command's own included) and the options it
// cannot do without. Checked before anything is opened, so that a mistyped command line (`ferry
// pause / ferry resume` pasted whole) is refused rather than half understood.
struct Shape
{
    QString name;         // "status", "user add"
    int words = 1;        // positional arguments, the command's words included
    QString takes;        // for messages: "no arguments", "one NAME"
    QStringList required; // options it needs, as shown: "--user NAME"
};

const QList<Shape> &shapes()
{
    static const QString none = QStringLiteral("no arguments");
    static const QList<Shape> all{
        {QStringLiteral("user add"), 3, QStringLiteral("one NAME"), {}},
        {QStringLiteral("user list"), 2, none, {}},
        {QStringLiteral("user disable"), 3, QStringLiteral("one NAME"), {}},
        {QStringLiteral("user enable"), 3, QStringLiteral("one NAME"), {}},
        {QStringLiteral("user token"),
         3,
         QStringLiteral("--rotate and one NAME"),
         {QStringLiteral("--rotate")}},
        {QStringLiteral("quota set"), 3, QStringLiteral("one NAME"), {}},
        {QStringLiteral("quota show"), 3, QStringLiteral("one NAME"), {}},
        {QStringLiteral("quota list"), 2, none, {}},
        {QStringLiteral("quota reset"), 3, QStringLiteral("one NAME"), {}},
        {QStringLiteral("enqueue"), 2, QStringLiteral("one job TYPE"), {}},
        // A user's data is never written or read as a user nobody named.
        {QStringLiteral("import"),
         2,
         QStringLiteral("one FILE"),
         {QStringLiteral("--dataset NAME"), QStringLiteral("--user NAME")}},
        {QStringLiteral("export"),
         2,
         QStringLiteral("one DATASET"),
         {QStringLiteral("--user NAME")}},
        {QStringLiteral("dataset list"), 2, none, {QStringLiteral("--user NAME")}},
        {QStringLiteral("dataset show"),
         3,
         QStringLiteral("one dataset NAME"),
         {QStringLiteral("--user NAME")}},
        {QStringLiteral("dataset delete"),
         3,
         QStringLiteral("one dataset NAME"),
         {QStringLiteral("--user NAME")}},
        {QStringLiteral("job"), 2, QStringLiteral("one numeric job ID"), {}},
        {QStringLiteral("status"), 1, none, {}},
        {QStringLiteral("pause"), 1, none, {}},
        {QStringLiteral("resume"), 1, none, {}},
    };
    return all;
}

// ExitOk when the command line fits its command; otherwise the usage error is printed.
int checkUsage(const CommandLine &cli)
{
    const QStringList args = cli.positional();
    const QString command = args.value(0);
    const bool hasAction = command == u"user" || command == u"quota" || command == u"dataset";
    const QString name = hasAction ? command + u' ' + args.value(1) : command;
    const auto shape = std::find_if(shapes().cbegin(), shapes().cend(),
                                    [&](const Shape &s) { return s.name == name; });
    if (shape == shapes().cend()) {
        if (command == u"user") {
            return usage(QStringLiteral("unknown user action '%1' (use add, list, disable, enable "
                                        "or token --rotate).")
                             .arg(args.value(1)));
        }
        if (command == u"quota") {
            return usage(QStringLiteral("unknown quota action '%1' (use set, show, list or reset).")
                             .arg(args.value(1)));
        }
        if (command == u"dataset") {
            return usage(QStringLiteral("unknown dataset action '%1' (use list, show or delete).")
                             .arg(args.value(1)));
        }
        return usage(QStringLiteral("unknown command '%1'.").arg(command));
    }
    if (args.size() > shape->words) {
        return usage(QStringLiteral("unexpected argument '%1': %2 takes %3.")
                         .arg(args.at(shape->words), name, shape->takes));
    }
    if (args.size() < shape->words)
        return usage(QStringLiteral("%1 takes %2.").arg(name, shape->takes));
    for (const QString &option : shape->required) {
        if (!cli.isSet(option.section(u' ', 0, 0).mid(2)))
            return usage(QStringLiteral("%1 needs %2.").arg(name, option));
    }
    return ExitOk;
}

int enqueueCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
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
    auto user = cli.isSet(QStringLiteral("user"))
                    ? namedUser(host, cli.value(QStringLiteral("user")))
                    : host.users().operatorUser();
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
            return fail(enqueued.error());
        if (done == 0)
            first = enqueued->first().id;
        last = enqueued->last().id;
    }
    if (cli.isSet(QStringLiteral("json")))
        printJson({{QStringLiteral("enqueued"), count},
                   {QStringLiteral("firstId"), QString::number(first)}, // ids as the API writes
                   {QStringLiteral("lastId"), QString::number(last)}});
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
    QFile file(args.at(1));
    if (!file.open(QIODevice::ReadOnly))
        return fail(
            makeError(ErrorCode::InvalidArgument,
                      QStringLiteral("Cannot read %1: %2").arg(args.at(1), file.errorString())));
    auto user = namedUser(host, cli.value(QStringLiteral("user")));
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
        return fail(submitted.error());
    if (cli.isSet(QStringLiteral("json"))) {
        // As POST /api/v1/uploads answers (its 202 body), plus what the CLI decided.
        printJson({{QStringLiteral("sessionId"), submitted->sessionId},
                   {QStringLiteral("jobId"), QString::number(submitted->jobId)},
                   {QStringLiteral("status"), QStringLiteral("pending")},
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
    const QString format = cli.value(QStringLiteral("format")).isEmpty()
                               ? QStringLiteral("ndjson")
                               : cli.value(QStringLiteral("format"));
    if (format != u"ndjson" && format != u"csv")
        return usage(QStringLiteral("export --format must be ndjson or csv."));
    auto user = namedUser(host, cli.value(QStringLiteral("user")));
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

// GET /api/v1/jobs/{id}'s job (engine/api/jobjson.h, the same writer), with the attempt history
// and the first rejected rows as GET /api/v1/jobs/{id}/report writes them: ids as strings, null
// for what is not there.
QByteArray
jobJson(const Job &job, const QList<JobAttempt> &attempts, const QList<RowError> &rowErrors)
{
    auto orNull = [](const QString &text) -> QJsonValue {
        return text.isEmpty() ? QJsonValue() : QJsonValue(text);
    };
    auto timeOrNull = [](qint64 ms) { return ms > 0 ? QJsonValue(ms) : QJsonValue(); };
    QJsonArray attemptList, errorList;
    for (const JobAttempt &a : attempts) {
        attemptList.append(QJsonObject{{QStringLiteral("attempt"), a.attempt},
                                       {QStringLiteral("outcome"), a.outcome},
                                       {QStringLiteral("startedAt"), timeOrNull(a.startedAt)},
                                       {QStringLiteral("finishedAt"), timeOrNull(a.finishedAt)},
                                       {QStringLiteral("error"), orNull(a.error)}});
    }
    for (const RowError &e : rowErrors) {
        errorList.append(QJsonObject{{QStringLiteral("line"), e.line},
                                     {QStringLiteral("field"), orNull(e.field)},
                                     {QStringLiteral("reason"), e.reason}});
    }
    std::string out;
    appendJobJson(out, job);
    out.pop_back(); // the job's closing brace: two more members follow
    out += ",\"attemptHistory\":";
    out += QJsonDocument(attemptList).toJson(QJsonDocument::Compact).toStdString();
    out += ",\"rowErrors\":";
    out += QJsonDocument(errorList).toJson(QJsonDocument::Compact).toStdString();
    out += '}';
    return QByteArray(out.data(), qsizetype(out.size()));
}

int jobCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    bool ok = false;
    const qint64 id = args.value(1).toLongLong(&ok);
    if (!ok)
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
    if (cli.isSet(QStringLiteral("json"))) {
        print(QString::fromUtf8(jobJson(j, *attempts, *errors)));
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

int runCommand(const CommandLine &cli, const QProcessEnvironment &environment)
{
    if (const int refused = checkUsage(cli); refused != ExitOk)
        return refused;
    const QString command = cli.positional().at(0);
    // `ferry user add` may create the store: the README's quick start adds the first user
    // before any engine has run. It says so, so that a mistyped --data-dir shows at once.
    // Everything else refuses a store that does not exist (storecheck.h).
    const bool createsStore = command == u"user" && cli.positional().at(1) == u"add";
    auto config = ConfigLoader::load(cli.configOptions(), environment,
                                     createsStore ? ConfigLoader::DataDir::Create
                                                  : ConfigLoader::DataDir::LeaveMissing);
    if (!config)
        return fail(config.error(), ExitUsage);
    auto exists = storeExists(*config);
    if (!exists)
        return fail(exists.error());
    if (!*exists && !createsStore)
        return fail(missingStore(*config), ExitUsage);
    auto host = EngineHost::create(*config, EngineHost::Role::Tool);
    if (!host)
        return fail(host.error());
    if (!*exists) {
        note(QStringLiteral("there was no Ferry store at %1; created a new one.")
                 .arg(storeLocation(config->database)));
    }
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
    if (command == u"dataset")
        return datasetCommand(cli, **host);
    const bool pause = command == u"pause";
    if (auto done = (*host)->queue().setPaused(pause); !done)
        return fail(done.error());
    print(pause ? QStringLiteral("Queue paused: running jobs finish, nothing new starts.")
                : QStringLiteral("Queue resumed."));
    return ExitOk;
}

} // namespace Ferry
