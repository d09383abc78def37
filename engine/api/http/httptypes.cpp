#include "http/httptypes.h"

#include <QJsonDocument>

namespace Ferry::Http {

namespace {

QByteArray findHeader(const HeaderList &headers, QByteArrayView name)
{
    for (const auto &[key, value] : headers) {
        if (key.size() == name.size() && key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

} // namespace

QByteArray Request::header(QByteArrayView name) const
{
    return findHeader(headers, name);
}

void Response::setHeader(QByteArray name, QByteArray value)
{
    for (auto &entry : headers) {
        if (entry.first.compare(name, Qt::CaseInsensitive) == 0) {
            entry.second = std::move(value);
            return;
        }
    }
    headers.append({std::move(name), std::move(value)});
}

QByteArray Response::header(QByteArrayView name) const
{
    return findHeader(headers, name);
}

Response Response::json(int status, const QJsonObject &object)
{
    Response response;
    response.status = status;
    response.headers.append(
        {QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json; charset=utf-8")});
    response.body = QJsonDocument(object).toJson(QJsonDocument::Compact);
    return response;
}

Response
Response::error(int status, const QString &title, const QString &message, const QString &code)
{
    return json(status, QJsonObject{{QStringLiteral("success"), false},
                                    {QStringLiteral("error"), title},
                                    {QStringLiteral("message"), message},
                                    {QStringLiteral("code"), code}});
}

const char *reasonPhrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

} // namespace Ferry::Http
