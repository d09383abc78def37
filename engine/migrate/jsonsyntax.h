#pragma once

#include <QtGlobal>

#include <string>
#include <string_view>
#include <utility>

namespace Ferry {

// Internal to the migration readers: validation without building anything.

struct SyntaxError
{
    qsizetype pos = -1; // -1: the text is one valid JSON value
    const char *reason = nullptr;
};

// Position of the first byte that breaks UTF-8 (overlongs, surrogates and code points past
// U+10FFFF included), or -1. With allowTruncatedEnd a sequence cut off by the end of the bytes
// is accepted (a sniffed prefix of a file).
qsizetype utf8ErrorOffset(std::string_view bytes, bool allowTruncatedEnd = false);
bool isJsonSpace(char c);
// The first problem in a document: invalid UTF-8 or a JSON syntax error.
SyntaxError checkDocument(std::string_view text);
// Line (from firstLine) and 1-based byte column of pos inside text.
std::pair<qint64, qint64> lineAndColumn(std::string_view text, qsizetype pos, qint64 firstLine);

} // namespace Ferry
