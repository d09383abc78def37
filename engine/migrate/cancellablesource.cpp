#include "migrate/cancellablesource.h"

#include <algorithm>

namespace Ferry {

namespace {

constexpr qint64 SkipStep = 16 << 20; // bytes skipped between two checks

} // namespace

CancellableSource::CancellableSource(ByteSource &source, std::function<bool()> cancelled)
    : m_source(source), m_cancelled(std::move(cancelled))
{}

bool CancellableSource::checkCancelled()
{
    if (!m_cancelledError && m_cancelled()) {
        m_cancelledError = makeError(ErrorCode::Unavailable,
                                     QStringLiteral("The import was stopped while reading."));
    }
    return m_cancelledError.has_value();
}

std::string_view CancellableSource::read(qsizetype maxBytes)
{
    if (checkCancelled())
        return {};
    return m_source.read(maxBytes);
}

Result<void> CancellableSource::skipTo(qint64 offset)
{
    while (m_source.offset() < offset) {
        if (checkCancelled())
            return *m_cancelledError;
        const qint64 before = m_source.offset();
        if (auto skipped = m_source.skipTo(std::min(offset, before + SkipStep)); !skipped)
            return skipped;
        if (m_source.offset() == before)
            break; // no progress: let the source say why below
    }
    return m_source.skipTo(offset);
}

const std::optional<Error> &CancellableSource::error() const
{
    return m_cancelledError ? m_cancelledError : m_source.error();
}

} // namespace Ferry
