#pragma once

#include "migrate/bytesource.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

namespace Ferry {

// A reader's window on its stream: [begin, end) survives refills (the record or document being
// read), and a '\n' sentinel sits at end so scanning loops need no bounds check. Shared by the
// CSV and JSON readers.
struct ReadWindow
{
    static constexpr size_t kMinRead = 64 * 1024;
    static constexpr size_t kInitial = 512 * 1024;

    std::unique_ptr<char[]> data;
    size_t capacity = 0;
    size_t begin = 0; // start of the document being read
    size_t pos = 0;   // where scanning continues
    size_t end = 0;   // end of the bytes read
    qint64 base = 0;  // stream offset of data[0]
    bool eof = false;

    // Reads more, moving [begin, end) to the front or growing when room runs short. Returns how
    // far positions moved back (callers shift their own), or -1 on a source error.
    qint64 refill(ByteSource &source)
    {
        size_t shift = 0;
        if (capacity - end < kMinRead) {
            if (begin > 0) {
                shift = begin;
                std::memmove(data.get(), data.get() + begin, end - begin);
                base += qint64(begin);
                pos -= begin;
                end -= begin;
                begin = 0;
            }
            if (capacity - end < kMinRead) {
                const size_t grown = std::max({capacity * 2, end + kMinRead, kInitial});
                auto bigger = std::make_unique_for_overwrite<char[]>(grown + 1);
                if (end > 0)
                    std::memcpy(bigger.get(), data.get(), end);
                data = std::move(bigger);
                capacity = grown;
            }
        }
        const std::string_view chunk = source.read(qsizetype(capacity - end));
        if (chunk.empty()) {
            if (source.error())
                return -1;
            eof = true;
        } else {
            std::memcpy(data.get() + end, chunk.data(), chunk.size());
            end += chunk.size();
        }
        data[end] = '\n';
        return qint64(shift);
    }

    std::string_view view(size_t from, size_t to) const { return {data.get() + from, to - from}; }
};

} // namespace Ferry
