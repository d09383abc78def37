#include "consolecontext.h"

#include "monitor/resourcemonitor.h"
#include "queue/dispatcher.h"

namespace Ferry {

MetricFeed *ConsoleContext::chartFeed() const
{
    return metrics ? metrics : monitor;
}

QString ConsoleContext::thisNode() const
{
    if (!nodeId.isEmpty() || !dispatcher)
        return nodeId;
    return dispatcher->nodeId();
}

} // namespace Ferry
