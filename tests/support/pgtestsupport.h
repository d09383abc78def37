#pragma once

#include <QSqlDatabase>
#include <QString>

namespace Ferry::Test {

// The throwaway PostgreSQL server the CTest fixture "ferry_pg" starts (scripts/pg-test-server.sh):
// FERRY_TEST_PG_URL when set (an external server), otherwise the URL the fixture wrote to the file
// named by FERRY_TEST_PG_URL_FILE. Empty when neither exists (then PostgreSQL tests skip).
QString postgresTestUrl();

// A fresh database on that server, named after the test and a random suffix, so tests and reruns
// never see each other's tables. Returns its URL, or an empty string (with *error set) on failure.
QString createPostgresTestDatabase(const QString &prefix, QString *error);

// A QPSQL connection named `connection` to the database `url` names (as DatabaseConfig::fromUrl
// reads it), opened: check isOpen(). Tests read what nodes wrote through it. Remove it with
// QSqlDatabase::removeDatabase(connection) once every copy is gone.
QSqlDatabase openPostgres(const QString &url, const QString &connection);

} // namespace Ferry::Test
