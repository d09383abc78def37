#pragma once

#include "queue/handlerregistry.h"

namespace Ferry {

// "noop": completes at once. Measures the queue's own overhead.
class NoopHandler final : public JobHandler
{
public:
    JobOutcome run(JobContext &context) override;
};

// "sleep": payload {"ms": N} (0..3,600,000). Sleeps in small slices, reporting progress and
// observing cancellation, then completes. Stands in for real work in tests and benchmarks.
class SleepHandler final : public JobHandler
{
public:
    Result<void> validatePayload(const QJsonObject &payload) const override;
    JobOutcome run(JobContext &context) override;
};

void registerBuiltinHandlers(HandlerRegistry &registry);

} // namespace Ferry
