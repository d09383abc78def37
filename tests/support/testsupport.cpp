#include "testsupport.h"

#include <QTest>

namespace Ferry::Test {

std::unique_ptr<SqliteStore> openStore(const QString &path, int schemaVersion)
{
    DatabaseConfig config;
    config.sqlitePath = path;
    auto store = SqliteStore::open(config, schemaVersion);
    if (!store) {
        qFatal("cannot open test store %s: %s", qPrintable(path),
               qPrintable(store.error().toString()));
    }
    return std::move(*store);
}

TempStore::TempStore()
{
    store = openStore(path());
}

qint64 TempStore::addUser(const QString &name)
{
    UserDirectory users(*store, clock);
    auto user = users.addUser(name);
    if (!user)
        qFatal("cannot add user: %s", qPrintable(user.error().toString()));
    return user->user.id;
}

bool waitFor(const std::function<bool()> &condition, int timeoutMs)
{
    return QTest::qWaitFor(condition, timeoutMs);
}

} // namespace Ferry::Test
