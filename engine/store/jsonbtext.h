#pragma once

#include <string>
#include <string_view>

namespace Ferry {

// PostgreSQL prints a jsonb value with a space after every ':' and ',' between members and
// elements (jsonb_out) and nowhere else outside strings. Dataset documents are handed on
// compact, as Ferry wrote them and as SQLite returns them: the same bytes wherever jsonb kept
// the document's key order and number text (docs/deployment.md, "Documents as jsonb").

// printed, without the spaces outside its strings, appended to out.
void appendCompactJsonb(std::string &out, std::string_view printed);
// The size appendCompactJsonb would append.
size_t compactJsonbSize(std::string_view printed);

} // namespace Ferry
