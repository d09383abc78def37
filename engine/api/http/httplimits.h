#pragma once

#include <QtGlobal>

namespace Ferry::Http {

// Every bound the server layer enforces. The defaults suit a LAN-facing upload server on a small
// machine; tests shorten the timeouts so they stay fast.
struct HttpLimits
{
    qint64 maxHeaderBytes = 16 * 1024; // request line + header fields; over it: 431 and close
    int maxHeaderCount = 100;          // over it: 431 and close
    // Bodies over this are refused with 413: before reading, from Content-Length, or as soon as
    // the counted chunked bytes pass it. HeaderDecision::maxBodyBytes raises it per request
    // (e.g. for an upload route that streams into a BodyConsumer).
    qint64 maxBodyBytes = 8 * 1024 * 1024;
    int headerTimeoutMs = 10'000;    // from the first byte of a request to the end of its headers
    int bodyStallTimeoutMs = 30'000; // longest pause between two pieces of a body
    int idleTimeoutMs = 30'000;      // keep-alive connection with nothing in flight
    int lingerMs = 2'000;            // after a closing response: drain what the client still sends
    // A response that makes no progress (the client reads nothing, bytesToWrite does not shrink)
    // for this long: the connection is dropped, so a slow reader cannot pin its buffers forever.
    int writeStallTimeoutMs = 30'000;
    int maxConnections = 1024;     // open connections overall; beyond: 503 and close
    int maxConnectionsPerIp = 128; // open connections from one client address; beyond: 503
    int maxPipelinedRequests = 16; // requests read ahead of their responses; then reading pauses
    // Threads that run connections (parsing, the handler's network-thread work); connections are
    // spread over them round-robin as they are accepted. 0: one per core, at most 4.
    int networkThreads = 0;
};

} // namespace Ferry::Http
