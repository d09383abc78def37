#pragma once

#include "core/error.h"

#include <QString>

namespace Ferry::BlobFiles {

// An exclusive lock on a blob directory, shared by every process and node that uses it: flock on
// <root>/.lock (Linux maps flock to a whole-file lock on NFS, so nodes sharing --blob-dir on NFS
// exclude each other too). Held around "does the blob exist, take it" in a commit and around
// "is it still untaken, delete it" in a removal, so the two never interleave.
class DirectoryLock final
{
public:
    explicit DirectoryLock(const QString &root);
    ~DirectoryLock();
    Q_DISABLE_COPY_MOVE(DirectoryLock)
    bool locked() const { return m_fd >= 0; }
    Error error() const;

private:
    int m_fd = -1;
    QString m_root;
    int m_errno = 0;
};

// fsync of a file or directory (a rename or link is durable once its directory is).
bool syncPath(const QString &path);

// A blob's lease stamp is its modification time in ns since the epoch.
qint64 stampOf(const QString &path); // -1 when the file is gone
// Sets a stamp strictly greater than the current one (and not before now), under the
// directory lock: two commits of one content never get the same lease. The stamp as stored.
Result<qint64> renewStamp(const QString &path, qint64 nowNs);
qint64 nowNs();

} // namespace Ferry::BlobFiles
