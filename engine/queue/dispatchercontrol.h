#pragma once
// The Dispatcher's concurrency as the resource monitor steers it: callbacks, so the monitor stays
// below the queue in the layers (docs/architecture.md). app/enginehost.cpp wires them.

#include "monitor/resourcemonitor.h"
#include "queue/dispatcher.h"

namespace Ferry {

// The dispatcher must outlive the monitor that holds these.
inline ConcurrencyControl concurrencyControlOf(Dispatcher &dispatcher)
{
    ConcurrencyControl control;
    control.configured = [&dispatcher] { return dispatcher.maxConcurrency(); };
    control.resourceLimit = [&dispatcher] { return dispatcher.resourceLimit(); };
    control.setResourceLimit = [&dispatcher](int cap) { dispatcher.setResourceLimit(cap); };
    control.setClaimingPaused = [&dispatcher](bool paused) {
        dispatcher.setClaimingPaused(paused);
    };
    control.effective = [&dispatcher] { return dispatcher.effectiveConcurrency(); };
    return control;
}

} // namespace Ferry
