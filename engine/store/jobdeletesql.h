#pragma once

// SQL shared by SqliteStore and PostgresStore for deleting finished jobs and the uploads nothing
// reads any more (retention's pruneFinished, the console's "Delete finished", DELETE
// /api/v1/jobs/{id} and /api/v1/sessions/{id}): both dialects accept it as written.

#include <QString>

namespace Ferry::JobDeleteSql {

// The jobs (unaliased `jobs`) that may be deleted: finished, and not a failed, cancelled or dead
// migration whose undo has not run yet (its checkpoint is how the undo sweep finds its rows).
inline const QString deletable = QStringLiteral(
    "status IN ('completed', 'failed', 'cancelled', 'dead') AND (status = 'completed' OR NOT "
    "EXISTS (SELECT 1 FROM migration_checkpoints c WHERE c.job_id = jobs.id))");

// Binds: the session id. Deletes it unless a job still reads it; returns its blob.
inline const QString deleteUnusedSession = QStringLiteral(
    "DELETE FROM upload_sessions WHERE id = ? AND NOT EXISTS (SELECT 1 FROM jobs j WHERE "
    "j.session_id = upload_sessions.id) RETURNING sha256");

} // namespace Ferry::JobDeleteSql
