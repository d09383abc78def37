#pragma once

#include "core/clock.h"
#include "queue/handlerregistry.h"
#include "store/sqlitestore.h"
#include "users/userdirectory.h"

#include <QTemporaryDir>

#include <memory>

namespace Ferry::Test {

// A fresh SQLite store in its own temporary directory, with a user to own jobs.
struct TempStore
{
    TempStore();
    QString path() const { return dir.path() + QStringLiteral("/ferry.db"); }
    qint64 addUser(const QString &name);

    QTemporaryDir dir;
    std::unique_ptr<SqliteStore> store;
    ManualClock clock;
};

// Opens a SQLite store at path (migrated to the newest schema), failing the test on error.
std::unique_ptr<SqliteStore> openStore(const QString &path, int schemaVersion = -1);

// Polls the condition while spinning the event loop, up to timeoutMs.
bool waitFor(const std::function<bool()> &condition, int timeoutMs = 10'000);

} // namespace Ferry::Test
