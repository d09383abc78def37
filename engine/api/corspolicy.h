#pragma once

#include "http/httptypes.h"

#include <QByteArray>
#include <QList>

namespace Ferry {

// Cross-origin access for browsers (--cors-origins): off unless origins are listed. An allowed
// Origin gets Access-Control-Allow-Origin (that origin; Vary: Origin) and sees the API's own
// headers (rate limits, Location, Ferry-Job-Id, tus); its preflight (OPTIONS) is answered 204
// without a token and without counting against the rate limit. Any other origin gets no CORS
// headers, so the browser keeps the answer from the page.
class CorsPolicy final
{
public:
    static constexpr int MaxAgeSeconds = 600;
    static constexpr char AllowHeaders[] =
        "Authorization, Content-Type, Idempotency-Key, Tus-Resumable, Upload-Length, "
        "Upload-Offset, Upload-Metadata, Content-Encoding";
    static constexpr char ExposeHeaders[] =
        "RateLimit, RateLimit-Policy, Retry-After, Location, Ferry-Job-Id, Tus-Resumable, "
        "Tus-Version, Tus-Extension, Tus-Max-Size, Upload-Offset, Upload-Length, "
        "Upload-Metadata, Upload-Expires";

    CorsPolicy() = default; // off
    // Origins as parseOriginList() returns them (serialized, lowercase).
    explicit CorsPolicy(QList<QByteArray> origins);

    bool enabled() const { return !m_origins.isEmpty(); }
    // The request's Origin when it is on the list; empty otherwise (or when there is none).
    QByteArray allowedOrigin(const Http::Request &request) const;
    // Vary: Origin on every answer while CORS is on (the answer depends on it), and for an
    // allowed origin Access-Control-Allow-Origin and Access-Control-Expose-Headers.
    void addHeaders(const QByteArray &allowedOrigin, Http::Response &response) const;
    // 204 for a preflight from an allowed origin; methods: what the path takes.
    Http::Response preflight(const QByteArray &methods) const;

private:
    QList<QByteArray> m_origins;
};

} // namespace Ferry
