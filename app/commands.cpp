#include "commands.h"

#include "enginehost.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace Ferry {

namespace {

void print(const QString &text)
{
    std::fputs(text.toUtf8().constData(), stdout);
    std::fputc('\n', stdout);
}

int fail(const Error &error, int code = ExitFailure)
{
    std::fprintf(stderr, "ferry: %s\n", qPrintable(error.toString()));
    return code;
}

int usage(const QString &message)
{
    std::fprintf(stderr, "ferry: %s\nRun 'ferry --help' for usage.\n", qPrintable(message));
    return ExitUsage;
}

void printJson(const QJsonObject &object)
{
    print(QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact)));
}

QJsonObject userJson(const User &user)
{
    return {{QStringLiteral("id"), double(user.id)},
            {QStringLiteral("name"), user.name},
            {QStringLiteral("tier"), user.tier},
            {QStringLiteral("disabled"), user.disabled}};
}

int userCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    const QString action = args.value(1);
    const bool json = cli.isSet(QStringLiteral("json"));
    if (action == u"add") {
        if (args.size() != 3)
            return usage(QStringLiteral("user add takes one NAME."));
        auto created = host.users().addUser(args.at(2), cli.value(QStringLiteral("tier")));
        if (!created)
            return fail(created.error(), created.error().code == ErrorCode::InvalidArgument
                                             ? ExitUsage
                                             : ExitFailure);
        if (json) {
            QJsonObject object = userJson(created->user);
            object.insert(QStringLiteral("token"), created->token);
            printJson(object);
        } else {
            print(QStringLiteral("Created user %1 (tier %2).")
                      .arg(created->user.name, created->user.tier));
            print(QStringLiteral("API token (shown once, store it now):"));
            print(created->token);
        }
        return ExitOk;
    }
    if (action == u"list") {
        auto users = host.store().users();
        if (!users)
            return fail(users.error());
        QJsonArray array;
        for (const User &user : std::as_const(*users)) {
            if (json)
                array.append(userJson(user));
            else
                print(QStringLiteral("%1\t%2%3")
                          .arg(user.name, user.tier,
                               user.disabled ? QStringLiteral("\tdisabled") : QString()));
        }
        if (json)
            printJson({{QStringLiteral("users"), array}});
        return ExitOk;
    }
    return usage(QStringLiteral("unknown user action '%1' (use add or list).").arg(action));
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
    auto user = cli.isSet(QStringLiteral("user"))
                    ? host.users().findByName(cli.value(QStringLiteral("user")))
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
    static const QStringList known{QStringLiteral("user"), QStringLiteral("enqueue"),
                                   QStringLiteral("status"), QStringLiteral("pause"),
                                   QStringLiteral("resume")};
    if (!known.contains(command))
        return usage(QStringLiteral("unknown command '%1'.").arg(command));
    auto host = EngineHost::create(config, EngineHost::Role::Tool);
    if (!host)
        return fail(host.error());
    if (command == u"user")
        return userCommand(cli, **host);
    if (command == u"enqueue")
        return enqueueCommand(cli, **host);
    if (command == u"status")
        return statusCommand(cli, **host);
    const bool pause = command == u"pause";
    if (auto done = (*host)->queue().setPaused(pause); !done)
        return fail(done.error());
    print(pause ? QStringLiteral("Queue paused: running jobs finish, nothing new starts.")
                : QStringLiteral("Queue resumed."));
    return ExitOk;
}

} // namespace Ferry
