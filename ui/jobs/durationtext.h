#pragma once

#include <QString>

namespace Ferry {

// A job's duration as the console shows it: "21 ms", "4.3 s", "12m 05s", "2h 07m"; empty for a
// negative one (not started).
QString durationText(qint64 ms);

} // namespace Ferry
