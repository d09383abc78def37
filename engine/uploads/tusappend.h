#pragma once

#include "core/error.h"
#include "storage/tuspartstore.h"
#include "store/tusuploadrecord.h"

#include <QByteArrayView>

#include <memory>
#include <optional>

namespace Ferry {

class TusUploads;

// One PATCH body being appended. Holds the upload exclusively until commit() or keep() (or
// destruction, which keeps what arrived).
class TusAppend final
{
public:
    ~TusAppend();
    Q_DISABLE_COPY_MOVE(TusAppend)

    const TusUploadRecord &upload() const { return m_upload; }
    qint64 remaining() const { return m_upload.length - m_offset; }

    // Appends to the .part file; false on a write error or past the upload's length.
    bool write(QByteArrayView data);
    // Why write() refused, when it was not the disk's own error (the free-disk floor).
    const std::optional<Error> &writeError() const { return m_writeError; }
    // None when write() may be called again now; a future while the database's queue of this
    // append's chunks is full (TusPartAppend::readyForMore). A .part file never asks to wait.
    std::optional<QFuture<void>> readyForMore() const
    {
        return m_part ? m_part->readyForMore() : std::nullopt;
    }
    // The body is whole: makes the bytes durable, records the offset, and completes the upload
    // when it reached its length. Returns the upload as it is now.
    Result<TusUploadRecord> commit();
    // The body broke off: makes what arrived durable and records that offset.
    void keep();

private:
    friend class TusUploads;
    TusAppend(TusUploads &uploads, TusUploadRecord upload, int fd);
    // Into the database (TusOptions::parts): the part store's append, which records the offset
    // itself, chunk by chunk.
    TusAppend(TusUploads &uploads, TusUploadRecord upload, std::unique_ptr<TusPartAppend> part);
    Result<void> persist();

    TusUploads &m_uploads;
    TusUploadRecord m_upload;
    int m_fd;
    std::unique_ptr<TusPartAppend> m_part;
    qint64 m_offset;
    bool m_writeFailed = false;
    std::optional<Error> m_writeError;
    bool m_done = false;
};

} // namespace Ferry
