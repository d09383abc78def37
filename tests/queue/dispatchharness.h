#pragma once

// Shared by the dispatcher's tests (tst_dispatcher, tst_queueraces).

#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "testhandlers.h"
#include "testsupport.h"

namespace Ferry::Test {

// A store, a queue and a dispatcher wired as app/ wires them, on a manual clock.
struct Harness
{
    explicit Harness(QueueConfig queueConfig = defaults()) : config(queueConfig)
    {
        registerBuiltinHandlers(handlers);
        handlers.add(QStringLiteral("record"), recorder);
        handlers.add(QStringLiteral("fail"), failer);
        handlers.add(QStringLiteral("block"), blocker);
        handlers.add(QStringLiteral("linger"), lingerer);
        alice = t.addUser(QStringLiteral("alice"));
        bob = t.addUser(QStringLiteral("bob"));
        queue = std::make_unique<JobQueue>(*t.store, handlers, t.clock, config);
        dispatcher =
            std::make_unique<Dispatcher>(*queue, handlers, t.clock, QStringLiteral("node-a"));
    }
    ~Harness()
    {
        blocker->release = true;
        lingerer->letGo = true;
        dispatcher.reset();
    }
    static QueueConfig defaults()
    {
        QueueConfig c;
        c.maxConcurrency = 2;
        c.pollIntervalMs = 20;
        c.rescueIntervalMs = 50;
        c.defaultTimeoutMs = 0;
        c.shutdownGraceMs = 5000;
        c.retentionMs = 0;
        return c;
    }
    NewJob job(qint64 user, const QString &type, QJsonObject payload = {}, int priority = 0) const
    {
        NewJob j;
        j.userId = user;
        j.type = type;
        j.payload = std::move(payload);
        j.priority = priority;
        return j;
    }
    qint64 enqueue(const NewJob &j)
    {
        auto r = queue->enqueue(j);
        if (!r)
            qFatal("enqueue: %s", qPrintable(r.error().toString()));
        return r->id;
    }
    Job get(qint64 id) { return **t.store->job(id, std::nullopt); }
    JobStatus status(qint64 id) { return get(id).status; }
    bool waitStatus(qint64 id, JobStatus wanted, int timeoutMs = 30'000)
    {
        return waitFor([&] { return status(id) == wanted; }, timeoutMs);
    }

    TempStore t;
    QueueConfig config;
    HandlerRegistry handlers;
    std::shared_ptr<RecordingHandler> recorder = std::make_shared<RecordingHandler>();
    std::shared_ptr<FailingHandler> failer = std::make_shared<FailingHandler>();
    std::shared_ptr<BlockingHandler> blocker = std::make_shared<BlockingHandler>();
    std::shared_ptr<LingeringHandler> lingerer = std::make_shared<LingeringHandler>();
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    qint64 alice = 0;
    qint64 bob = 0;
};

} // namespace Ferry::Test
