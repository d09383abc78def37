#pragma once

#include <QtGlobal>

namespace Ferry {

// The queue's tunables, with their defaults (docs/architecture.md, "Queue").
struct QueueConfig
{
    static constexpr int MinConcurrency = 1;
    static constexpr int MaxConcurrency = 64;

    int maxConcurrency = 3;                // seed item 2
    qint64 leaseMs = 30'000;               // a crashed node's jobs return within this
    qint64 pollIntervalMs = 1'000;         // fallback when no in-process wake arrives
    qint64 rescueIntervalMs = 5'000;       // how often expired leases are looked for
    qint64 defaultTimeoutMs = 15 * 60'000; // per attempt; 0 = none
    int defaultMaxAttempts = 5;
    qint64 backoffBaseMs = 1'000; // retry n waits random(0, min(cap, base * 2^(n-1)))
    qint64 backoffCapMs = 10 * 60'000;
    qint64 retentionMs = 7 * 24 * 3'600'000LL; // finished jobs older than this are pruned; 0 = keep
    int pruneBatch = 1'000;
    // Ageing: a job ready for longer than this gains one priority step per interval (up to
    // MaxPriority), so low-priority work cannot starve behind a stream of higher; 0 = off.
    qint64 agingIntervalMs = 60'000;
    qint64 shutdownGraceMs = 10'000;
    // SQLite: this process is the only engine on the store (a lock file proves it), so at start
    // every running job is a leftover of a crash and is rescued at once, not after its lease.
    bool exclusiveStore = true;

    // Per-user cap: running jobs per user at most (--max-per-user); 0 = no cap.
    static constexpr int MaxPerUserLimit = 64;
    int maxPerUser = 0;

    // Cluster: at most this many jobs running across every node on the database
    // (--cluster-max-running; counted in the claim under a lock); 0 = no limit.
    int clusterMaxRunning = 0;
};

} // namespace Ferry
