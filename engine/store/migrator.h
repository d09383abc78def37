#pragma once

#include "core/error.h"

#include <QSqlDatabase>
#include <QString>

namespace Ferry {

// Applies the versioned schema migrations shipped as resources (:/ferry/migrations/<dialect>/
// NNNN_name.sql) in one transaction, recording each in schema_migrations. Refuses a database
// whose schema is newer than the newest migration this binary knows.
class Migrator final
{
public:
    Migrator(QSqlDatabase db, QString dialect);
    // The dialect directory from the connection's driver: "postgres" for QPSQL, else "sqlite".
    explicit Migrator(QSqlDatabase db);
    static QString dialectOf(const QSqlDatabase &db);

    // Brings the schema to targetVersion (default: the newest known). Returns the version.
    Result<int> migrate(int targetVersion = -1);
    Result<int> currentVersion();
    int latestVersion() const;

private:
    struct Migration
    {
        int version = 0;
        QString name;
        QString path;
    };
    QList<Migration> available() const;

    QSqlDatabase m_db;
    QString m_dialect;
};

// Splits a migration script into statements: each ends with a ';' at the end of a line.
QStringList splitSqlStatements(const QString &script);

} // namespace Ferry
