#pragma once

#include <QString>

namespace Ferry::SqliteJobIds {

// SQLite gives a new row the largest rowid + 1: once the newest job is deleted (DELETE
// /api/v1/jobs/{id}, the console, retention), the next job would take its id, and an
// Idempotency-Key replay, a saved Location or an event stream would take the new job for the
// deleted one. So the largest id ever given is kept in settings before jobs are deleted, and a
// new job's id is one past both (PostgreSQL's sequence never goes back by itself).

// Before deleting jobs, in the same transaction: keeps the largest job id.
inline const QString keepLastId = QStringLiteral(
    "INSERT INTO settings (key, value) SELECT 'jobs.lastId', CAST(m AS TEXT) FROM (SELECT "
    "max(id) AS m FROM jobs) WHERE m IS NOT NULL ON CONFLICT (key) DO UPDATE SET value = "
    "CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)");

// A new job's id (an expression for INSERT ... VALUES).
inline const QString nextId = QStringLiteral(
    "(max(coalesce((SELECT max(id) FROM jobs), 0), coalesce((SELECT CAST(value AS INTEGER) FROM "
    "settings WHERE key = 'jobs.lastId'), 0)) + 1)");

} // namespace Ferry::SqliteJobIds
