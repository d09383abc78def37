#pragma once

// What the fuzz targets share: drawing options from the front of an input, a ByteSource that
// hands out bytes in input-chosen pieces, and the check that aborts with a message (libFuzzer
// keeps the input as a crash; the replay runner reports which corpus file broke it).

#include "migrate/bytesource.h"

#include <QByteArray>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#if defined(__has_include)
#if __has_include(<sanitizer/allocator_interface.h>) && defined(FERRY_FUZZ_BUILD)
#include <sanitizer/allocator_interface.h>
#define FERRY_FUZZ_HAS_ALLOCATOR_STATS 1
#endif
#endif

namespace Ferry::Fuzz {

[[noreturn]] inline void fail(const char *what, const char *file, int line)
{
    std::fprintf(stderr, "fuzz property violated at %s:%d: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

// Not assert(): it stays on in every build type, and says which property broke.
#define FUZZ_CHECK(condition, what)                                                                \
    do {                                                                                           \
        if (!(condition))                                                                          \
            ::Ferry::Fuzz::fail(what, __FILE__, __LINE__);                                         \
    } while (false)

// Draws small choices from the front of the input; what is left is the payload. An input too
// short for a choice gets zeros, so every input is usable.
class Input
{
public:
    Input(const uint8_t *data, size_t size) : m_data(data), m_size(size) {}

    uint8_t byte()
    {
        if (m_pos >= m_size)
            return 0;
        return m_data[m_pos++];
    }
    bool flag() { return byte() & 1; }
    // 0..max inclusive (max < 65536).
    unsigned upTo(unsigned max)
    {
        const unsigned value = unsigned(byte()) << 8 | byte();
        return max == 0 ? 0 : value % (max + 1);
    }
    std::string_view rest() const
    {
        return {reinterpret_cast<const char *>(m_data + m_pos), m_size - m_pos};
    }
    QByteArray restBytes() const { return QByteArray(rest().data(), qsizetype(rest().size())); }

private:
    const uint8_t *m_data;
    size_t m_size;
    size_t m_pos = 0;
};

// A deterministic stream of piece sizes from a seed (so chunking does not eat the payload):
// mostly tiny pieces, sometimes large ones, so every construct lands across an edge somewhere.
class Pieces
{
public:
    explicit Pieces(uint32_t seed) : m_state(seed * 2654435761u + 1) {}
    size_t next(size_t max)
    {
        m_state ^= m_state << 13;
        m_state ^= m_state >> 17;
        m_state ^= m_state << 5;
        const uint32_t r = m_state;
        size_t size = (r & 0x80000000u) ? 1 + (r % 4096) : 1 + (r % 8);
        return size < max ? size : max;
    }

private:
    uint32_t m_state;
};

// A ByteSource over bytes in memory that hands out pieces of sizes Pieces chooses (never more
// than the reader asked for), as a slow socket or a gzip stream would.
class PieceSource final : public ByteSource
{
public:
    PieceSource(QByteArray bytes, uint32_t seed) : m_bytes(std::move(bytes)), m_pieces(seed) {}

    std::string_view read(qsizetype maxBytes) override
    {
        const size_t left = size_t(m_bytes.size()) - size_t(m_offset);
        if (left == 0 || maxBytes <= 0)
            return {};
        const size_t n = m_pieces.next(std::min(left, size_t(maxBytes)));
        const std::string_view piece(m_bytes.constData() + m_offset, n);
        m_offset += qint64(n);
        return piece;
    }
    qint64 offset() const override { return m_offset; }
    Result<void> skipTo(qint64 offset) override
    {
        FUZZ_CHECK(offset >= m_offset && offset <= m_bytes.size(), "skipTo out of range");
        m_offset = offset;
        return {};
    }
    const std::optional<Error> &error() const override { return m_error; }

private:
    QByteArray m_bytes;
    Pieces m_pieces;
    qint64 m_offset = 0;
    std::optional<Error> m_error;
};

// Bytes the process has allocated now (the fuzz build's ASan allocator); 0 where unknown, so
// the memory checks only run where they can measure.
inline size_t allocatedBytes()
{
#ifdef FERRY_FUZZ_HAS_ALLOCATOR_STATS
    return __sanitizer_get_current_allocated_bytes();
#else
    return 0;
#endif
}

// Memory a reader may hold beyond its input: a fixed allowance (its window and buffers) plus a
// small multiple of the bytes it was given. A reader that buffers more per byte than this, or
// grows without bound, fails it.
inline void checkMemory(size_t baseline, size_t inputBytes, const char *what)
{
    const size_t now = allocatedBytes();
    if (baseline == 0 || now <= baseline)
        return;
    FUZZ_CHECK(now - baseline <= size_t(4) * 1024 * 1024 + 8 * inputBytes, what);
}

} // namespace Ferry::Fuzz
