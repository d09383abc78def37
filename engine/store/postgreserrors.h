#pragma once

#include "core/error.h"

#include <QSqlError>

namespace Ferry {

// A failed PostgreSQL statement as a Ferry Error, by its SQLSTATE (QSqlError::nativeErrorCode):
//   23505 unique_violation           -> ErrorCode::Conflict
//   40001 serialization_failure,
//   40P01 deadlock_detected          -> ErrorCode::Storage, "retryable" in the message: the
//                                       transaction was rolled back and may simply be run again
//   anything else                    -> ErrorCode::Storage
// sqlError() (sqlhelpers.h) calls this for every query on a QPSQL connection, so every
// PostgresStore path maps the same way.
Error postgresError(const QSqlError &error, const QString &doing);

// True for the SQLSTATEs after which running the whole transaction again can succeed.
bool isRetryablePostgresState(const QString &sqlState);

} // namespace Ferry
