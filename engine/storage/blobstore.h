#pragma once

#include "core/error.h"

#include <QString>

#include <memory>

namespace Ferry {

struct BlobInfo
{
    QString id; // lowercase hex SHA-256 of the content: equal uploads share one blob
    qint64 size = 0;
};

// An upload being written. Nothing is visible until commit() returns: the bytes are on disk
// (fsync'd) under their final name. Destroying an uncommitted writer removes what it wrote.
class BlobWriter
{
public:
    virtual ~BlobWriter() = default;
    virtual Result<void> write(const char *data, qint64 size) = 0;
    virtual Result<BlobInfo> commit() = 0;
    virtual qint64 written() const = 0;
};

// Uploaded files, content-addressed. FileBlobStore keeps them under the data dir; a
// database-backed store (several nodes, one PostgreSQL) can fill the same interface.
class BlobStore
{
public:
    virtual ~BlobStore() = default;
    // expectedSize (or -1 when unknown) is checked against the free-disk floor up front.
    virtual Result<std::unique_ptr<BlobWriter>> create(qint64 expectedSize) = 0;
    // A local file with the blob's content, for streaming readers.
    virtual Result<QString> localPath(const QString &id) = 0;
    virtual bool contains(const QString &id) = 0;
    virtual Result<void> remove(const QString &id) = 0;
};

bool isBlobId(const QString &id);

} // namespace Ferry
