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
    // A request handed to the Handler and not answered within this: 503 and close, so a handler
    // that holds a Responder forever cannot pin the connection (the longest legitimate wait, a
    // job long-poll, is 60 s).
    int responseTimeoutMs = 120'000;
    int maxConnections = 1024; // open connections overall; beyond: 503 and close
    // Open connections from one client (Handler::connectionKey(): by default the peer address;
    // Ferry's API keys it like the rate limit, IPv6 by /56, and exempts trusted proxies); beyond:
    // 503.
    int maxConnectionsPerIp = 128;
    // Refused connections (503 over a cap) that are still being answered; beyond, further excess
    // connections are closed at once without an answer, so a flood cannot hold descriptors.
    int maxRefusing = 64;
    // Descriptors kept free for the rest of the process (files, SQLite): the connection cap is
    // lowered to RLIMIT_NOFILE minus this when the descriptor limit is the tighter bound.
    int reservedDescriptors = 128;
    // listen() raises the soft RLIMIT_NOFILE towards the hard one when the caps need more (the
    // common soft default is 1024); false leaves the process's limit alone.
    bool raiseDescriptorLimit = true;
    // Connections the kernel completes and queues before Ferry accepts them (listen()'s backlog;
    // the kernel caps it at net.core.somaxconn). Qt's default of 50 is too few for a burst: past
    // it the kernel drops SYNs and those clients wait a second or more for the retransmission.
    int listenBacklog = 1024;
    // After accept() failed for want of descriptors (EMFILE): how soon to try again.
    int acceptRetryMs = 250;
    int maxPipelinedRequests = 16; // requests read ahead of their responses; then reading pauses
    // Threads that run connections (parsing, the handler's network-thread work); connections are
    // spread over them round-robin as they are accepted. 0: one per core, at most 4.
    int networkThreads = 0;
};

} // namespace Ferry::Http
