// TusUploads housekeeping: expiry, orphaned .part files, the blob store's garbage (see
// tusuploads.h, pruneExpired()).
#include "uploads/tusuploads.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QLoggingCategory>

namespace Ferry {

Q_DECLARE_LOGGING_CATEGORY(lcTus)

Result<int> TusUploads::pruneExpired()
{
    auto stale = m_store.staleTusUploads(m_clock.nowMs() - m_options.expiryMs, 1000);
    if (!stale)
        return stale.error();
    int removed = 0;
    for (const TusUploadRecord &upload : std::as_const(*stale)) {
        if (!tryLock(upload.id))
            continue; // being written: not expired after all
        discard(upload);
        unlock(upload.id);
        ++removed;
    }
    if (auto orphans = removeOrphanedParts(); !orphans)
        qCWarning(lcTus) << orphans.error().toString();
    else if (*orphans > 0)
        qCInfo(lcTus) << "removed" << *orphans << "upload files no upload refers to";
    auto collected =
        m_blobs.collect([this](const QString &blob) { return m_store.blobReferenced(blob); });
    if (!collected)
        qCWarning(lcTus) << collected.error().toString();
    else if (collected->blobs + collected->temporaryFiles > 0)
        qCInfo(lcTus) << "blob store: removed" << collected->temporaryFiles
                      << "abandoned temporary files and" << collected->blobs
                      << "blobs no upload refers to";
    return removed;
}

// .part files whose row is gone (a crash between creating the file and its row, or between
// deleting the row and the file), untouched for the expiry period.
Result<int> TusUploads::removeOrphanedParts()
{
    // File times are the system's: compared with the system clock, not the injected one.
    const QDateTime before = QDateTime::currentDateTimeUtc().addMSecs(-m_options.expiryMs);
    int removed = 0;
    const QFileInfoList parts =
        QDir(m_options.directory).entryInfoList({QStringLiteral("*.part")}, QDir::Files);
    for (const QFileInfo &part : parts) {
        const QString id = part.completeBaseName();
        if (!isUploadId(id.toLatin1()) || part.lastModified() >= before)
            continue;
        auto row = m_store.tusUpload(id, std::nullopt);
        if (!row)
            return row.error();
        if (row->has_value() || !tryLock(id))
            continue;
        removed += QFile::remove(part.filePath()) ? 1 : 0;
        unlock(id);
    }
    return removed;
}

} // namespace Ferry
