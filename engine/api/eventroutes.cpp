#include "api/eventroutes.h"

namespace Ferry {

EventRoutes::EventRoutes(JobEventHub &hub) : m_hub(hub) {}

QList<ApiRoute> EventRoutes::routes()
{
    // On the workers: a user's first stream reads the user's jobs before the status line.
    ApiRoute events;
    events.method = "GET";
    events.path = "/api/v1/events";
    events.offload = true;
    events.handle = [this](const ApiCall &call) { openStream(call); };
    return {events};
}

// GET /api/v1/events (auth)
//   200 text/event-stream, open until the client or the server closes it: for each change of
//   one of the caller's jobs (created, status, attempts, progress at most once a second per
//   job) an event "id: <n>\nevent: job\ndata: <the job as GET /api/v1/jobs/{id} shows it>";
//   ": keepalive" every 15 s. Ids grow within one server process; Last-Event-ID is not
//   supported (after a reconnect, list GET /api/v1/jobs for what changed meanwhile).
//   429 too_many_streams past maxStreamsPerUser open streams of the user; 503 too_many_streams
//   (Retry-After) past maxStreams in total, or while the server stops.
void EventRoutes::openStream(const ApiCall &call)
{
    auto subscribed = m_hub.subscribe(call.user().id);
    if (!subscribed)
        return call.respond(Api::fromError(subscribed.error()));
    const JobEventHubOptions &options = m_hub.options();
    switch (subscribed->refusal) {
    case JobEventHub::Refusal::None:
        break;
    case JobEventHub::Refusal::UserLimit: {
        Http::Response response = Api::error(
            429, "Too many event streams",
            QStringLiteral("You have %1 event streams open, the most one user may. Close one "
                           "(one stream carries all your jobs) before opening another.")
                .arg(options.maxStreamsPerUser),
            "too_many_streams");
        response.setHeader("Retry-After", "5");
        return call.respond(std::move(response));
    }
    case JobEventHub::Refusal::TotalLimit:
    case JobEventHub::Refusal::Stopped: {
        const bool stopping = subscribed->refusal == JobEventHub::Refusal::Stopped;
        Http::Response response = Api::error(
            503, "Unavailable",
            stopping ? QStringLiteral("The server is stopping. Reconnect in a moment.")
                     : QStringLiteral("The server has %1 event streams open, the most it "
                                      "keeps. Try again later, or poll GET /api/v1/jobs.")
                           .arg(options.maxStreams),
            stopping ? "unavailable" : "too_many_streams");
        response.setHeader("Retry-After", "30");
        return call.respond(std::move(response));
    }
    }
    Http::Response response;
    response.setHeader("Content-Type", "text/event-stream; charset=utf-8");
    response.setHeader("Cache-Control", "no-cache");
    response.setHeader("X-Accel-Buffering", "no"); // nginx: pass events on as they come
    // The connection asks for the next chunk as its socket drains; the hub answers when an
    // event or a keep-alive is due. The stream unsubscribes when the connection drops it.
    response.stream = [stream = subscribed->stream]() -> QFuture<Http::StreamChunk> {
        return stream->next();
    };
    call.respond(std::move(response));
}

} // namespace Ferry
