#include "postgreserrors.h"

namespace Ferry {

bool isRetryablePostgresState(const QString &sqlState)
{
    return sqlState == u"40001" || sqlState == u"40P01";
}

Error postgresError(const QSqlError &error, const QString &doing)
{
    const QString state = error.nativeErrorCode();
    const QString text = error.text();
    if (state == u"23505") {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Conflict while %1: %2").arg(doing, text),
                         QStringLiteral("Another row with the same key exists."));
    }
    if (isRetryablePostgresState(state)) {
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("Database error while %1 (retryable, SQLSTATE %2): %3")
                .arg(doing, state, text),
            QStringLiteral("A concurrent transaction on another connection or node conflicted "
                           "with this one, which was rolled back; try again."));
    }
    QString hint = QStringLiteral("Check that the PostgreSQL server is running and reachable.");
    if (state.startsWith(u"53"))
        hint = QStringLiteral("The PostgreSQL server is out of resources (connections, disk or "
                              "memory); lower --db-max-connections or free them.");
    return makeError(
        ErrorCode::Storage,
        state.isEmpty()
            ? QStringLiteral("Database error while %1: %2").arg(doing, text)
            : QStringLiteral("Database error while %1 (SQLSTATE %2): %3").arg(doing, state, text),
        hint);
}

} // namespace Ferry
