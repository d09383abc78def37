#include "store/jsonbtext.h"

namespace Ferry {

namespace {

// Calls space(i) for each space outside a string; printed is jsonb_out's text (valid JSON).
template<typename Space>
void forEachOutsideSpace(std::string_view printed, Space space)
{
    const char *const data = printed.data();
    const size_t n = printed.size();
    size_t i = 0;
    while (i < n) {
        const char c = data[i];
        if (c == ' ') {
            space(i);
            ++i;
        } else if (c == '"') {
            // To the closing quote, over escapes (a backslash and the character after it).
            for (++i; i < n && data[i] != '"'; ++i) {
                if (data[i] == '\\')
                    ++i;
            }
            ++i;
        } else {
            ++i;
        }
    }
}

} // namespace

void appendCompactJsonb(std::string &out, std::string_view printed)
{
    size_t from = 0;
    forEachOutsideSpace(printed, [&](size_t space) {
        out.append(printed.substr(from, space - from));
        from = space + 1;
    });
    out.append(printed.substr(from));
}

size_t compactJsonbSize(std::string_view printed)
{
    size_t spaces = 0;
    forEachOutsideSpace(printed, [&](size_t) { ++spaces; });
    return printed.size() - spaces;
}

} // namespace Ferry
