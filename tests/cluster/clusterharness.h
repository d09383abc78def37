#pragma once

// Shared by the cluster tests: a node = a JobQueue and a Dispatcher over a store, as app/ wires
// them, with a non-exclusive store (several nodes share the database).

#include "../queue/testhandlers.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "queue/jobqueue.h"

#include <memory>

namespace Ferry::Test {

struct ClusterHandlers
{
    ClusterHandlers()
    {
        registerBuiltinHandlers(registry);
        registry.add(QStringLiteral("record"), recorder);
        registry.add(QStringLiteral("block"), blocker);
    }
    ~ClusterHandlers() { blocker->release = true; }
    HandlerRegistry registry;
    std::shared_ptr<RecordingHandler> recorder = std::make_shared<RecordingHandler>();
    std::shared_ptr<BlockingHandler> blocker = std::make_shared<BlockingHandler>();
};

inline QueueConfig clusterQueueConfig()
{
    QueueConfig c;
    c.maxConcurrency = 4;
    c.pollIntervalMs = 20;
    c.rescueIntervalMs = 50;
    c.defaultTimeoutMs = 0;
    c.shutdownGraceMs = 5000;
    c.retentionMs = 0;
    c.exclusiveStore = false; // other nodes share the database
    return c;
}

struct ClusterMember
{
    ClusterMember(Store &store,
                  const HandlerRegistry &handlers,
                  const Clock &clock,
                  const QString &node,
                  QueueConfig config = clusterQueueConfig())
    {
        queue = std::make_unique<JobQueue>(store, handlers, clock, config);
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, clock, node);
    }
    ~ClusterMember() { dispatcher.reset(); }
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
};

inline NewJob clusterJob(qint64 user, const QString &type, QJsonObject payload = {})
{
    NewJob j;
    j.userId = user;
    j.type = type;
    j.payload = std::move(payload);
    j.maxAttempts = 3;
    return j;
}

} // namespace Ferry::Test
