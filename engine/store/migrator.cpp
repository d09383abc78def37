#include "migrator.h"

#include "store/sqlhelpers.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>

namespace Ferry {

Migrator::Migrator(QSqlDatabase db, QString dialect)
    : m_db(std::move(db)), m_dialect(std::move(dialect))
{}

Migrator::Migrator(QSqlDatabase db) : Migrator(db, dialectOf(db)) {}

QString Migrator::dialectOf(const QSqlDatabase &db)
{
    return db.driverName() == QLatin1String("QPSQL") ? QStringLiteral("postgres")
                                                     : QStringLiteral("sqlite");
}

QList<Migrator::Migration> Migrator::available() const
{
    static const QRegularExpression pattern(QStringLiteral("^(\\d{4})_(\\w+)\\.sql$"));
    QList<Migration> result;
    const QDir dir(QStringLiteral(":/ferry/migrations/") + m_dialect);
    for (const QString &file : dir.entryList(QDir::Files, QDir::Name)) {
        const auto match = pattern.match(file);
        if (match.hasMatch())
            result.append({match.captured(1).toInt(), match.captured(2), dir.filePath(file)});
    }
    return result;
}

int Migrator::latestVersion() const
{
    const auto all = available();
    return all.isEmpty() ? 0 : all.last().version;
}

Result<int> Migrator::currentVersion()
{
    QSqlQuery query(m_db);
    if (!query.exec(QStringLiteral("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                                   "applied_at BIGINT NOT NULL)")))
        return sqlError(query, QStringLiteral("reading the schema version"));
    if (!query.exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")) ||
        !query.next())
        return sqlError(query, QStringLiteral("reading the schema version"));
    return query.value(0).toInt();
}

Result<int> Migrator::migrate(int targetVersion)
{
    const QList<Migration> all = available();
    const int latest = latestVersion();
    if (latest == 0) {
        return makeError(
            ErrorCode::Internal,
            QStringLiteral("This build carries no schema migrations for %1.").arg(m_dialect),
            QStringLiteral("Rebuild Ferry; the resources were not linked in."));
    }
    if (targetVersion < 0)
        targetVersion = latest;

    SqlTransaction transaction(m_db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    if (m_dialect == QLatin1String("postgres")) {
        // Several nodes may start at once against one PostgreSQL database: one migrates, the
        // others wait here and then find the schema current. SQLite's BEGIN IMMEDIATE does this.
        QSqlQuery lock(m_db);
        if (!lock.exec(QStringLiteral("SELECT pg_advisory_xact_lock(7262011)")))
            return sqlError(lock, QStringLiteral("waiting for another node's schema migration"));
    }
    auto current = currentVersion();
    if (!current)
        return current.error();
    if (*current > latest) {
        return makeError(ErrorCode::SchemaTooNew,
                         QStringLiteral("The database %1 has schema version %2, newer than this "
                                        "Ferry build knows (%3).")
                             .arg(m_db.databaseName())
                             .arg(*current)
                             .arg(latest),
                         QStringLiteral("Run the newer Ferry that wrote it, or point --data-dir "
                                        "or --db at another database."));
    }
    int version = *current;
    for (const Migration &migration : all) {
        if (migration.version <= version || migration.version > targetVersion)
            continue;
        QFile file(migration.path);
        if (!file.open(QIODevice::ReadOnly))
            return makeError(ErrorCode::Internal,
                             QStringLiteral("Missing migration ") + migration.path);
        QSqlQuery query(m_db);
        for (const QString &statement : splitSqlStatements(QString::fromUtf8(file.readAll()))) {
            if (!query.exec(statement)) {
                return sqlError(query, QStringLiteral("applying schema migration %1_%2")
                                           .arg(migration.version, 4, 10, QLatin1Char('0'))
                                           .arg(migration.name));
            }
        }
        query.prepare(QStringLiteral(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"));
        query.addBindValue(migration.version);
        query.addBindValue(migration.name);
        query.addBindValue(QDateTime::currentMSecsSinceEpoch());
        if (!query.exec())
            return sqlError(query, QStringLiteral("recording a schema migration"));
        version = migration.version;
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return version;
}

QStringList splitSqlStatements(const QString &script)
{
    QStringList statements;
    QString current;
    for (const QString &line : script.split(u'\n')) {
        const QString trimmed = line.trimmed();
        if (trimmed.startsWith(u"--") || trimmed.isEmpty())
            continue;
        current += line + u'\n';
        if (trimmed.endsWith(u';')) {
            statements.append(current.trimmed());
            current.clear();
        }
    }
    if (!current.trimmed().isEmpty())
        statements.append(current.trimmed());
    return statements;
}

} // namespace Ferry
