#pragma once

#include "migrate/bytesource.h"

#include <functional>

namespace Ferry {

// A ByteSource that stops when its job is cancelled (by the user, the job timeout, a shutdown).
// Every step of an import pulls its bytes from the source (the header, a record, the blank lines
// or whitespace a reader skips inside one call, the skip to a checkpoint on resume), so checking
// here bounds every step by one read: no single step runs unbounded without seeing the cancel,
// however the file is shaped. After a cancel, read() returns nothing and error() says why.
class CancellableSource final : public ByteSource
{
public:
    CancellableSource(ByteSource &source, std::function<bool()> cancelled);

    std::string_view read(qsizetype maxBytes) override;
    qint64 offset() const override { return m_source.offset(); }
    // In steps, checking between them: a resumed gzip import may inflate gigabytes to get back
    // to its checkpoint.
    Result<void> skipTo(qint64 offset) override;
    const std::optional<Error> &error() const override;

    bool wasCancelled() const { return m_cancelledError.has_value(); }

private:
    bool checkCancelled();

    ByteSource &m_source;
    std::function<bool()> m_cancelled;
    std::optional<Error> m_cancelledError;
};

} // namespace Ferry
