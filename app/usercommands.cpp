#include "usercommands.h"

#include "commandoutput.h"
#include "enginehost.h"
#include "quota/limitparser.h"
#include "quota/quotajson.h"
#include "quota/quotaledger.h"
#include "storecheck.h"

#include <QJsonArray>
#include <QLocale>

namespace Ferry {

namespace {

QJsonObject userJson(const User &user)
{
    return {{QStringLiteral("id"), QString::number(user.id)}, // ids as the API writes them
            {QStringLiteral("name"), user.name},
            {QStringLiteral("tier"), user.tier},
            {QStringLiteral("disabled"), user.disabled}};
}

// "1000", "unlimited" (-1), "default" (the tier's: nullopt); engine/quota/limitparser.h.
Result<std::optional<qint64>> parseLimit(const QString &option, const QString &text, bool bytes)
{
    return Ferry::parseLimit(text, bytes ? LimitKind::Bytes : LimitKind::Uploads,
                             QStringLiteral("--") + option);
}

QString limitText(qint64 limit, bool isDefault, bool bytes)
{
    const QString value = limit < 0 ? QStringLiteral("unlimited")
                          : bytes   ? sizeText(limit)
                                    : QString::number(limit);
    return isDefault ? value + QStringLiteral(" (tier)") : value;
}

QString resetDate(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODate);
}

} // namespace

Result<User> namedUser(EngineHost &host, const QString &name)
{
    auto user = host.users().findByName(name);
    if (!user && user.error().code == ErrorCode::NotFound) {
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("No user named '%1' in %2.")
                             .arg(name.left(80), storeLocation(host.config().database)),
                         QStringLiteral("Create it with: ferry user add %1 (or check --data-dir "
                                        "and --db).")
                             .arg(name.left(80)));
    }
    return user;
}

int userCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    const QString action = args.value(1);
    const bool json = cli.isSet(QStringLiteral("json"));
    if (action == u"add") {
        auto created = host.users().addUser(args.at(2), cli.value(QStringLiteral("tier")));
        if (!created)
            return fail(created.error());
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
    if (action == u"disable" || action == u"enable") {
        auto user = namedUser(host, args.at(2));
        if (!user)
            return fail(user.error());
        if (auto changed = host.users().setDisabled(user->id, action == u"disable"); !changed)
            return fail(changed.error());
        print(QStringLiteral("User %1 %2.")
                  .arg(user->name, action == u"disable"
                                       ? QStringLiteral("disabled: its token is refused (403)")
                                       : QStringLiteral("enabled")));
        return ExitOk;
    }
    if (action == u"token") {
        auto user = namedUser(host, args.at(2));
        if (!user)
            return fail(user.error());
        auto token = host.users().rotateToken(user->id);
        if (!token)
            return fail(token.error());
        if (json) {
            QJsonObject object = userJson(*user);
            object.insert(QStringLiteral("token"), *token);
            printJson(object);
        } else {
            print(QStringLiteral("New API token for %1 (shown once; the old one no longer works "
                                 "once running engines' 5 s authentication cache expires):")
                      .arg(user->name));
            print(*token);
        }
        return ExitOk;
    }
    return usage(QStringLiteral("unknown user action '%1' (use add, list, disable, enable or "
                                "token --rotate).")
                     .arg(action));
}

int quotaCommand(const CommandLine &cli, EngineHost &host)
{
    const QStringList args = cli.positional();
    const QString action = args.value(1);
    const bool json = cli.isSet(QStringLiteral("json"));
    QuotaLedger ledger(host.store(), host.clock());
    // A user's quota: GET /api/v1/quota's object plus "user" for --json, one line of text.
    auto quotaOf = [&](const User &user, QJsonObject *object, QString *line) -> Result<void> {
        auto status = ledger.status(user);
        if (!status)
            return status.error();
        *object = quotaJson(user, *status);
        object->insert(QStringLiteral("user"), user.name);
        *line = QStringLiteral("%1\t%2\t%3\tuploads %4/%5\tbytes %6/%7\tresets %8")
                    .arg(user.name, user.tier, status->period)
                    .arg(status->uploadsUsed)
                    .arg(limitText(status->uploadsLimit, status->uploadsLimitIsDefault, false))
                    .arg(sizeText(status->bytesUsed))
                    .arg(limitText(status->bytesLimit, status->bytesLimitIsDefault, true))
                    .arg(resetDate(status->resetsAtMs));
        return {};
    };
    auto show = [&](const User &user) -> int {
        QJsonObject object;
        QString line;
        if (auto read = quotaOf(user, &object, &line); !read)
            return fail(read.error());
        json ? printJson(object) : print(line);
        return ExitOk;
    };
    if (action == u"list") {
        auto users = host.store().users();
        if (!users)
            return fail(users.error());
        // One document for --json, as user list: {"quotas": [...]}.
        QJsonArray array;
        for (const User &user : std::as_const(*users)) {
            QJsonObject object;
            QString line;
            if (auto read = quotaOf(user, &object, &line); !read)
                return fail(read.error());
            if (json)
                array.append(object);
            else
                print(line);
        }
        if (json)
            printJson({{QStringLiteral("quotas"), array}});
        return ExitOk;
    }
    auto user = namedUser(host, args.at(2));
    if (!user)
        return fail(user.error());
    if (action == u"show")
        return show(*user);
    if (action == u"reset") {
        if (auto reset = ledger.resetUsage(user->id); !reset)
            return fail(reset.error());
        print(QStringLiteral("Usage of %1 for this month reset.").arg(user->name));
        return ExitOk;
    }
    if (action == u"set") {
        const bool uploadsSet = cli.isSet(QStringLiteral("uploads"));
        const bool bytesSet = cli.isSet(QStringLiteral("bytes"));
        if (!uploadsSet && !bytesSet)
            return usage(QStringLiteral("quota set needs --uploads N and/or --bytes B."));
        auto current = host.store().quotaLimits(user->id);
        if (!current)
            return fail(current.error());
        std::optional<qint64> uploads = current->uploads;
        std::optional<qint64> bytes = current->bytes;
        if (uploadsSet) {
            auto parsed =
                parseLimit(QStringLiteral("uploads"), cli.value(QStringLiteral("uploads")), false);
            if (!parsed)
                return fail(parsed.error(), ExitUsage);
            uploads = *parsed;
        }
        if (bytesSet) {
            auto parsed =
                parseLimit(QStringLiteral("bytes"), cli.value(QStringLiteral("bytes")), true);
            if (!parsed)
                return fail(parsed.error(), ExitUsage);
            bytes = *parsed;
        }
        if (auto set = ledger.setLimits(user->id, uploads, bytes); !set)
            return fail(set.error(), ExitUsage);
        return show(*user);
    }
    return usage(
        QStringLiteral("unknown quota action '%1' (use set, show, list or reset).").arg(action));
}

} // namespace Ferry
