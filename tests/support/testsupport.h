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

// One read-only query through a connection of its own, removed afterwards, so nothing stays
// open on the file between polls (for inspecting a database another process writes). An empty
// error means success.
QList<QVariantList> readRows(const QString &path, const QString &sql, QString *error);

// Polls the condition while spinning the event loop, up to timeoutMs.
bool waitFor(const std::function<bool()> &condition, int timeoutMs = 30'000);

} // namespace Ferry::Test
