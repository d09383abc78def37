#pragma once

#include <string>
#include <string_view>

namespace Ferry {

// The text of a JSON string literal (quotes included) for UTF-8 text, appended to out. Used where
// JSON is written directly rather than through QJsonDocument (hot paths).
void appendJsonString(std::string &out, std::string_view utf8);

} // namespace Ferry
