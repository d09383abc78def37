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

void TempStore::registerNode(const QString &id)
{
    NodeRecord node;
    node.id = id;
    node.startedAt = node.heartbeatAt = clock.nowMs();
    if (auto added = store->upsertNode(node); !added)
        qFatal("cannot register node: %s", qPrintable(added.error().toString()));
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

RefusedWrites::RefusedWrites(QString location, QString table, QString operation)
    : m_location(std::move(location))
    , m_table(std::move(table))
    , m_trigger(QStringLiteral("ferry_test_refuse_%1_%2").arg(m_table, operation.toLower()))
{
    const bool postgres = m_location.startsWith(QStringLiteral("postgresql://"));
    QStringList statements;
    if (postgres) {
        statements << QStringLiteral("CREATE OR REPLACE FUNCTION ferry_test_refuse() RETURNS "
                                     "trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                                     "'refused by the test'; END $$")
                   << QStringLiteral("CREATE TRIGGER %1 BEFORE %2 ON %3 FOR EACH ROW EXECUTE "
                                     "FUNCTION ferry_test_refuse()")
                          .arg(m_trigger, operation, m_table);
    } else {
        statements << QStringLiteral("CREATE TRIGGER %1 BEFORE %2 ON %3 BEGIN SELECT "
                                     "RAISE(ABORT, 'refused by the test'); END")
                          .arg(m_trigger, operation, m_table);
    }
    for (const QString &sql : std::as_const(statements)) {
        QString error;
        writeRows(m_location, sql, &error);
        if (!error.isEmpty())
            qFatal("cannot make the store refuse writes: %s", qPrintable(error));
    }
}

RefusedWrites::~RefusedWrites()
{
    const bool postgres = m_location.startsWith(QStringLiteral("postgresql://"));
    QString error;
    writeRows(m_location,
              postgres ? QStringLiteral("DROP TRIGGER %1 ON %2").arg(m_trigger, m_table)
                       : QStringLiteral("DROP TRIGGER %1").arg(m_trigger),
              &error);
    if (!error.isEmpty())
        qFatal("cannot let the store write again: %s", qPrintable(error));
}

bool waitFor(const std::function<bool()> &condition, int timeoutMs)
{
    return QTest::qWaitFor(condition, timeoutMs);
}

} // namespace Ferry::Test
