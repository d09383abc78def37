// TusAppend: one PATCH body appended to an upload's .part file (see tusuploads.h).
#include "uploads/tusappend.h"

#include "uploads/tusuploads.h"

#include <QLoggingCategory>

#include <cerrno>
#include <unistd.h>

namespace Ferry {

Q_DECLARE_LOGGING_CATEGORY(lcTus)

TusAppend::TusAppend(TusUploads &uploads, TusUploadRecord upload, int fd)
    : m_uploads(uploads), m_upload(std::move(upload)), m_fd(fd), m_offset(m_upload.offset)
{}

TusAppend::TusAppend(TusUploads &uploads,
                     TusUploadRecord upload,
                     std::unique_ptr<TusPartAppend> part)
    : m_uploads(uploads)
    , m_upload(std::move(upload))
    , m_fd(-1)
    , m_part(std::move(part))
    , m_offset(m_upload.offset)
{}

TusAppend::~TusAppend()
{
    keep();
}

bool TusAppend::write(QByteArrayView data)
{
    if (m_done || m_writeFailed || data.size() > remaining())
        return false;
    // The free-disk floor every 8 MiB, as the blob store's writers check it.
    if ((m_offset >> 23) != ((m_offset + data.size()) >> 23)) {
        if (auto room = m_uploads.m_blobs.checkSpace(data.size()); !room) {
            m_writeFailed = true;
            m_writeError = room.error();
            return false;
        }
    }
    if (m_part) {
        // Buffered and handed to the database's pool: this thread (the network's) never waits.
        if (auto written = m_part->write(data); !written) {
            m_writeFailed = true;
            m_writeError = written.error();
            return false;
        }
        m_offset += data.size();
        return true;
    }
    const char *at = data.data();
    qsizetype left = data.size();
    while (left > 0) {
        const ssize_t n = ::write(m_fd, at, size_t(left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            m_writeFailed = true;
            return false;
        }
        at += n;
        left -= n;
        m_offset += n;
    }
    return true;
}

Result<void> TusAppend::persist()
{
    if (m_part) {
        // Each chunk committed its offset with it; this commits the last one and ends the hold.
        auto kept = m_part->finish(m_uploads.m_clock.nowMs());
        m_part.reset();
        if (!kept)
            return kept.error();
        if (*kept != m_upload.offset) {
            m_upload.offset = *kept;
            m_upload.updatedAt = m_uploads.m_clock.nowMs();
        }
        return {};
    }
    // The file stays open, and so locked against other nodes' appends (TusUploads::beginAppend),
    // until its offset is recorded: another node resuming in between would read the old offset
    // and cut the new bytes off.
    auto closeFile = [this] {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    };
    if (m_fd >= 0 && ::fdatasync(m_fd) != 0) {
        // What the kernel did not confirm is not counted: the file is cut back on resume.
        closeFile();
        return makeError(ErrorCode::Storage,
                         QStringLiteral("Could not store the data of upload %1.").arg(m_upload.id),
                         QStringLiteral("Ask HEAD for the offset and resume later."));
    }
    if (m_offset == m_upload.offset) {
        closeFile();
        return {};
    }
    const qint64 now = m_uploads.m_clock.nowMs();
    auto recorded = m_uploads.m_store.setTusOffset(m_upload.id, m_offset, now);
    closeFile();
    if (!recorded)
        return recorded.error();
    m_upload.offset = m_offset;
    m_upload.updatedAt = now;
    return {};
}

Result<TusUploadRecord> TusAppend::commit()
{
    if (m_done)
        return m_upload;
    m_done = true;
    auto persisted = persist();
    Result<TusUploadRecord> result = m_upload;
    if (!persisted)
        result = persisted.error();
    else if (m_writeError)
        result = *m_writeError;
    else if (m_writeFailed)
        result = makeError(
            ErrorCode::Storage,
            QStringLiteral("Could not store all of the body of upload %1.").arg(m_upload.id),
            QStringLiteral("Ask HEAD for the offset and resume later."));
    else if (!m_upload.complete() && m_upload.offset == m_upload.length)
        result = m_uploads.complete(m_upload);
    m_uploads.unlock(m_upload.id);
    return result;
}

void TusAppend::keep()
{
    if (m_done)
        return;
    m_done = true;
    if (auto persisted = persist(); !persisted)
        qCWarning(lcTus) << persisted.error().toString();
    m_uploads.unlock(m_upload.id);
}

} // namespace Ferry
