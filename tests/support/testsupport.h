#pragma once

#include "core/clock.h"
#include "queue/handlerregistry.h"
#include "store/sqlitestore.h"
#include "testbackend.h"
#include "users/userdirectory.h"

#include <QTemporaryDir>

#include <memory>

namespace Ferry::Test {

// A fresh store in its own temporary directory: a SQLite file there, or on PostgreSQL
// (FERRY_TEST_BACKEND=postgres, testbackend.h) a fresh database of the test server. The directory
// exists on both backends (blobs, tus files).
struct TempStore
{
    TempStore();
    // The SQLite file (only meaningful on SQLite; see location()).
    QString path() const { return dir.path() + QStringLiteral("/ferry.db"); }
    // What --db names for this store: path() on SQLite, the database URL on PostgreSQL.
    QString location() const { return m_location; }
    // Closes the store and opens it again at the same location (an engine restart).
    void reopen();
    qint64 addUser(const QString &name);
    // Registers a live cluster node with this id (a heartbeat now, by clock), as ClusterNode does.
    void registerNode(const QString &id);

    QTemporaryDir dir;
    std::unique_ptr<Store> store;
    ManualClock clock;

private:
    QString m_location;
};

// Opens a SQLite store at path (migrated to the newest schema), failing the test on error.
std::unique_ptr<SqliteStore> openStore(const QString &path, int schemaVersion = -1);

// One read-only query through a connection of its own, removed afterwards, so nothing stays
// open on the file between polls (for inspecting a database another process writes). path is a
// SQLite file or a postgresql:// URL (TempStore::location()). An empty error means success.
QList<QVariantList> readRows(const QString &path, const QString &sql, QString *error);

// The same with a connection that may write (a test arranging a state the store cannot reach,
// such as an old schema's row): rows of a RETURNING clause, if any.
QList<QVariantList> writeRows(const QString &location, const QString &sql, QString *error);

// The store refuses one kind of write for real while this lives: a trigger makes every
// `operation` (DELETE, UPDATE or INSERT) on `table` fail, on SQLite and PostgreSQL alike (the
// database away, as far as the code that writes can tell). table and operation are the test's
// own constants.
class RefusedWrites
{
public:
    RefusedWrites(QString location, QString table, QString operation);
    ~RefusedWrites();
    Q_DISABLE_COPY_MOVE(RefusedWrites)

private:
    QString m_location;
    QString m_table;
    QString m_trigger;
};

// Polls the condition while spinning the event loop, up to timeoutMs.
bool waitFor(const std::function<bool()> &condition, int timeoutMs = 30'000);

} // namespace Ferry::Test
