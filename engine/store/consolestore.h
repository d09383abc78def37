#pragma once
// The operator console's Jobs page: every user's jobs, paged, counted and acted on (ui/jobs/).

#include "core/error.h"
#include "store/consolerecords.h"

namespace Ferry {

class ConsoleStore
{
public:
    virtual ~ConsoleStore() = default;

    // One keyset page of every user's jobs matching the query, in its sort order, with user name,
    // file name, dataset and progress. Operator scope: no user check.
    virtual Result<QList<ConsoleJobRow>> consoleJobs(const ConsoleJobQuery &query) = 0;
    // The same rows for these ids (re-reading what the console shows), in no particular order;
    // ids that no longer exist are absent.
    virtual Result<QList<ConsoleJobRow>> consoleJobsById(const QList<qint64> &ids) = 0;
    // How many jobs match (exact; a scan when the filter has search text).
    virtual Result<qint64> countConsoleJobs(const ConsoleJobFilter &filter) = 0;
    // The action on every matching job it applies to, in one transaction; jobs it does not
    // apply to (a finished job for Cancel, ...) are left alone and not counted.
    virtual Result<ConsoleBulkResult> applyConsoleAction(const ConsoleJobFilter &filter,
                                                         ConsoleBulkAction action,
                                                         int value,
                                                         qint64 now) = 0;

    // Jobs that ended failed or dead after the cursor, in the order they ended (finished_at, then
    // id; finished_at is the database's clock on every node), at most `limit`: the failures an
    // observing console tells its operator about, whichever node ran them. On an index that holds
    // only failing jobs.
    virtual Result<QList<FailedJobRow>> failedJobsAfter(const FailedJobCursor &after,
                                                        int limit) = 0;
    // When the last job that ended failed or dead ended; 0 when none did.
    virtual Result<qint64> lastFailureAt() = 0;

protected:
    ConsoleStore() = default;
    Q_DISABLE_COPY_MOVE(ConsoleStore)
};

} // namespace Ferry
