#pragma once

#include "core/error.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace Ferry {

// A comma-separated list of web origins ("https://app.example.com, http://localhost:5173"), as
// --cors-origins takes it. Each must be scheme://host[:port] with scheme http or https and
// nothing after the authority (no path, not even "/"); they come back in their serialized,
// lowercase form, as browsers send them in the Origin header. An empty text is an empty list.
Result<QList<QByteArray>> parseOriginList(const QString &text);

} // namespace Ferry
