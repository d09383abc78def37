#pragma once

#include <QString>

namespace Ferry {

// A name for this running process, unique across restarts and hosts: host:pid:random.
// It owns the leases this process takes.
QString makeNodeId();

} // namespace Ferry
