#pragma once

// The backend seam of the test suite. The same test .cpp runs on SQLite (registered with
// ferry_add_test) and on PostgreSQL (ferry_add_dual_backend_test adds "<name>_pg", which needs the
// "ferry_pg" fixture and sets FERRY_TEST_BACKEND=postgres). Everything a test opens through here
// (TempStore, openTestStore, readRows on a location) follows that variable.
#include "store/store.h"

#include <QString>
#include <QVariantList>

#include <memory>

namespace Ferry::Test {

// True when FERRY_TEST_BACKEND=postgres: stores are PostgresStores on fresh databases.
bool onPostgres();

// "sqlite" or "postgresql", for messages.
QString testBackendName();

// A fresh, empty place for a store on the current backend: the SQLite file path sqlitePath on
// SQLite, a new database's URL on PostgreSQL (named after the test executable; sqlitePath is
// ignored). Fails the test run (qFatal) when the PostgreSQL server cannot be reached.
QString freshStoreLocation(const QString &sqlitePath);

// Opens (and migrates to schemaVersion, default newest) the store at a location from
// freshStoreLocation: what `ferry --db <location>` opens. Fails the test run on error.
std::unique_ptr<Store> openTestStore(const QString &location, int schemaVersion = -1);

// Skips the current test function on PostgreSQL, naming why it only applies to SQLite.
#define FERRY_SQLITE_ONLY(reason)                                                                  \
    do {                                                                                           \
        if (::Ferry::Test::onPostgres())                                                           \
            QSKIP("SQLite only: " reason);                                                         \
    } while (false)

} // namespace Ferry::Test
