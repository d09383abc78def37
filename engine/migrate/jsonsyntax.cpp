// JSON and UTF-8 checks shared by the readers and format detection.
#include "migrate/jsonsyntax.h"

#include "migrate/jsonreader.h"

#include <algorithm>
#include <cstring>

namespace Ferry {

// Position of the first byte that breaks UTF-8 (overlongs, surrogates and code points past
// U+10FFFF included), or -1. With allowTruncatedEnd a sequence cut off by the end of the bytes
// is accepted (a sniffed prefix of a file).
qsizetype utf8ErrorOffset(std::string_view bytes, bool allowTruncatedEnd)
{
    const auto *const start = reinterpret_cast<const unsigned char *>(bytes.data());
    const unsigned char *p = start;
    const unsigned char *const e = p + bytes.size();
    while (p < e) {
        // ASCII runs eight bytes at a time.
        while (e - p >= 8) {
            quint64 word;
            std::memcpy(&word, p, 8);
            if (word & 0x8080808080808080ULL)
                break;
            p += 8;
        }
        if (p == e)
            break;
        const unsigned c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int length = 0;
        unsigned low = 0x80, high = 0xBF; // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0)
                low = 0xA0; // overlong
            else if (c == 0xED)
                high = 0x9F; // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0)
                low = 0x90; // overlong
            else if (c == 0xF4)
                high = 0x8F; // past U+10FFFF
        } else {
            return p - start;
        }
        for (int i = 1; i < length; ++i) {
            if (p + i == e)
                return allowTruncatedEnd ? -1 : p - start;
            const unsigned next = p[i];
            if (i == 1 ? (next < low || next > high) : (next < 0x80 || next > 0xBF))
                return p - start;
        }
        p += length;
    }
    return -1;
}

constexpr int kMaxDepth = 512;

bool isJsonSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

namespace {

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

bool hex4(std::string_view s, size_t at, unsigned *value)
{
    if (at + 4 > s.size())
        return false;
    unsigned v = 0;
    for (size_t i = at; i < at + 4; ++i) {
        const char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= unsigned(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= unsigned(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= unsigned(c - 'A' + 10);
        else
            return false;
    }
    *value = v;
    return true;
}

// Checks that text is exactly one JSON value (RFC 8259), iteratively with a depth cap, without
// building anything: numbers are checked for their grammar only, so 1e999 or 2^64 cannot
// overflow here. Lone \u surrogates are refused: nothing downstream could store them.
// The text must already be valid UTF-8.
SyntaxError checkJson(std::string_view s)
{
    const size_t n = s.size();
    size_t p = 0;
    char stack[kMaxDepth];
    int depth = 0;
    const auto fail = [&](const char *reason) { return SyntaxError{qsizetype(p), reason}; };
    const auto skipSpace = [&] {
        while (p < n && isJsonSpace(s[p]))
            ++p;
    };
    enum class Want { Value, Key, After } want = Want::Value;
    skipSpace();
    for (;;) {
        if (want == Want::Key || (want == Want::Value && p < n && s[p] == '"')) {
            // A string: a key or a value.
            if (p >= n || s[p] != '"')
                return fail("expected a string as the object key");
            ++p;
            for (;;) {
                if (p >= n)
                    return fail("unterminated string");
                const auto c = static_cast<unsigned char>(s[p]);
                if (c == '"')
                    break;
                if (c < 0x20)
                    return fail("control character in a string (it must be escaped)");
                if (c != '\\') {
                    ++p;
                    continue;
                }
                ++p;
                if (p >= n)
                    return fail("unterminated string");
                const char escape = s[p];
                if (std::strchr("\"\\/bfnrt", escape) && escape != '\0') {
                    ++p;
                    continue;
                }
                if (escape != 'u')
                    return fail("invalid escape sequence in a string");
                unsigned unit = 0;
                if (!hex4(s, p + 1, &unit))
                    return fail("invalid \\u escape (four hex digits expected)");
                if (unit >= 0xDC00 && unit <= 0xDFFF)
                    return fail("unpaired UTF-16 surrogate in a \\u escape");
                p += 5;
                if (unit >= 0xD800 && unit <= 0xDBFF) {
                    unsigned low = 0;
                    if (p + 1 >= n || s[p] != '\\' || s[p + 1] != 'u' || !hex4(s, p + 2, &low) ||
                        low < 0xDC00 || low > 0xDFFF)
                        return fail("unpaired UTF-16 surrogate in a \\u escape");
                    p += 6;
                }
            }
            ++p;
            if (want == Want::Key) {
                skipSpace();
                if (p >= n || s[p] != ':')
                    return fail("expected ':' after the object key");
                ++p;
                skipSpace();
                want = Want::Value;
                continue;
            }
            want = Want::After;
        }
        if (want == Want::Value) {
            if (p >= n)
                return fail("unexpected end: a value was expected");
            const char c = s[p];
            if (c == '{' || c == '[') {
                if (depth == kMaxDepth)
                    return fail("nested deeper than 512 levels");
                stack[depth++] = c;
                ++p;
                skipSpace();
                const char close = c == '{' ? '}' : ']';
                if (p < n && s[p] == close) {
                    ++p;
                    --depth;
                    want = Want::After;
                } else {
                    want = c == '{' ? Want::Key : Want::Value;
                }
                continue;
            }
            if (c == '-' || isDigit(c)) {
                if (c == '-')
                    ++p;
                if (p >= n || !isDigit(s[p]))
                    return fail("invalid number");
                if (s[p] == '0') {
                    ++p;
                } else {
                    while (p < n && isDigit(s[p]))
                        ++p;
                }
                if (p < n && s[p] == '.') {
                    ++p;
                    if (p >= n || !isDigit(s[p]))
                        return fail("invalid number: digits expected after '.'");
                    while (p < n && isDigit(s[p]))
                        ++p;
                }
                if (p < n && (s[p] == 'e' || s[p] == 'E')) {
                    ++p;
                    if (p < n && (s[p] == '+' || s[p] == '-'))
                        ++p;
                    if (p >= n || !isDigit(s[p]))
                        return fail("invalid number: digits expected in the exponent");
                    while (p < n && isDigit(s[p]))
                        ++p;
                }
            } else {
                bool matched = false;
                for (const std::string_view literal : {"true", "false", "null"}) {
                    if (s.substr(p, literal.size()) == literal) {
                        p += literal.size();
                        matched = true;
                        break;
                    }
                }
                if (!matched)
                    return fail("unexpected character: a value was expected");
            }
            want = Want::After;
        }
        // After a value: the end, or a separator or closing bracket of the enclosing container.
        skipSpace();
        if (depth == 0)
            break;
        const char open = stack[depth - 1];
        const char close = open == '{' ? '}' : ']';
        if (p < n && s[p] == ',') {
            ++p;
            skipSpace();
            want = open == '{' ? Want::Key : Want::Value;
        } else if (p < n && s[p] == close) {
            ++p;
            --depth;
        } else {
            return fail(open == '{' ? "expected ',' or '}' in the object"
                                    : "expected ',' or ']' in the array");
        }
    }
    if (p != n)
        return fail("unexpected text after the JSON value");
    return {};
}

} // namespace

// Finds the first problem in a document: invalid UTF-8 or a syntax error.
SyntaxError checkDocument(std::string_view text)
{
    const qsizetype bad = utf8ErrorOffset(text);
    if (bad >= 0)
        return {bad, "invalid UTF-8"};
    return checkJson(text);
}

// Line (from firstLine) and 1-based byte column of pos inside text.
std::pair<qint64, qint64> lineAndColumn(std::string_view text, qsizetype pos, qint64 firstLine)
{
    qint64 line = firstLine;
    qsizetype lineStart = 0;
    for (qsizetype i = 0; i < pos; ++i) {
        if (text[size_t(i)] == '\n') {
            ++line;
            lineStart = i + 1;
        }
    }
    return {line, pos - lineStart + 1};
}

bool isValidUtf8(std::string_view bytes)
{
    return utf8ErrorOffset(bytes) < 0;
}

} // namespace Ferry
