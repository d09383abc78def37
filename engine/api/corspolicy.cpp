#include "api/corspolicy.h"

namespace Ferry {

CorsPolicy::CorsPolicy(QList<QByteArray> origins) : m_origins(std::move(origins)) {}

QByteArray CorsPolicy::allowedOrigin(const Http::Request &request) const
{
    if (m_origins.isEmpty())
        return {};
    const QByteArray origin = request.header("origin");
    if (origin.isEmpty())
        return {};
    for (const QByteArray &allowed : m_origins) {
        if (origin.compare(allowed, Qt::CaseInsensitive) == 0)
            return allowed;
    }
    return {};
}

void CorsPolicy::addHeaders(const QByteArray &allowedOrigin, Http::Response &response) const
{
    if (m_origins.isEmpty())
        return;
    response.setHeader("Vary", "Origin");
    if (allowedOrigin.isEmpty())
        return;
    response.setHeader("Access-Control-Allow-Origin", allowedOrigin);
    if (response.status != 204)
        response.setHeader("Access-Control-Expose-Headers", QByteArray(ExposeHeaders));
}

Http::Response CorsPolicy::preflight(const QByteArray &methods) const
{
    Http::Response response;
    response.status = 204;
    response.setHeader("Access-Control-Allow-Methods", methods);
    response.setHeader("Access-Control-Allow-Headers", QByteArray(AllowHeaders));
    response.setHeader("Access-Control-Max-Age", QByteArray::number(MaxAgeSeconds));
    return response;
}

} // namespace Ferry
