#include "testsupport.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTest>

#include <atomic>

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

TempStore::TempStore() : m_location(freshStoreLocation(path()))
{
    store = openTestStore(m_location);
}

void TempStore::reopen()
{
    store.reset();
    store = openTestStore(m_location);
}

qint64 TempStore::addUser(const QString &name)
{
    UserDirectory users(*store, clock);
    auto user = users.addUser(name);
    if (!user)
        qFatal("cannot add user: %s", qPrintable(user.error().toString()));
    return user->user.id;
}

namespace {

QList<QVariantList> runRows(const QString &path, const QString &sql, QString *error, bool readOnly)
{
    static std::atomic<int> serial{0};
    const QString name = QStringLiteral("ferry-test-read-%1").arg(++serial);
    QList<QVariantList> rows;
    error->clear();
    {
        QSqlDatabase db;
        const auto config = DatabaseConfig::fromUrl(path);
        if (config && config->backend == DatabaseConfig::Backend::Postgres) {
            db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            db.setHostName(config->host);
            db.setPort(config->port);
            db.setUserName(config->user);
            db.setPassword(config->password);
            db.setDatabaseName(config->database);
        } else {
            db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
            db.setDatabaseName(path);
            db.setConnectOptions(
                readOnly ? QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=5000")
                         : QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
        }
        if (!db.open()) {
            *error = QStringLiteral("cannot open %1: %2").arg(path, db.lastError().text());
        } else {
            QSqlQuery query(db);
            if (!query.exec(sql)) {
                *error = QStringLiteral("%1: %2").arg(sql, query.lastError().text());
            } else {
                while (query.next()) {
                    QVariantList row;
                    for (int i = 0; i < query.record().count(); ++i)
                        row.append(query.value(i));
                    rows.append(row);
                }
            }
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return rows;
}

} // namespace

QList<QVariantList> readRows(const QString &path, const QString &sql, QString *error)
{
    return runRows(path, sql, error, true);
}

QList<QVariantList> writeRows(const QString &location, const QString &sql, QString *error)
{
    return runRows(location, sql, error, false);
}

bool waitFor(const std::function<bool()> &condition, int timeoutMs)
{
    return QTest::qWaitFor(condition, timeoutMs);
}

} // namespace Ferry::Test
