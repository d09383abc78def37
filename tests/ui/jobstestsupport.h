#pragma once

// Helpers of the Jobs page tests (tst_jobtablemodel, tst_jobspage).

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>

#include <atomic>

namespace Ferry::Test {

// Runs write statements on the store's file through a connection of its own (test set-up the
// store has no method for: statuses, row errors), removed afterwards. Empty: success.
inline QString execSql(const QString &path, const QStringList &statements)
{
    static std::atomic<int> serial{0};
    const QString name = QStringLiteral("ferry-test-write-%1").arg(++serial);
    QString error;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=10000"));
        if (!db.open()) {
            error = db.lastError().text();
        } else {
            QSqlQuery q(db);
            for (const QString &sql : statements) {
                if (!q.exec(sql)) {
                    error = sql + QStringLiteral(": ") + q.lastError().text();
                    break;
                }
            }
            q.finish();
            db.close();
        }
    }
    QSqlDatabase::removeDatabase(name);
    return error;
}

} // namespace Ferry::Test
