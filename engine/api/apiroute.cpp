#include "api/apiroute.h"

#include "api/apicallstate.h"
#include "api/apihandler.h"

#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QUrlQuery>

Q_LOGGING_CATEGORY(lcApi, "ferry.api")

namespace Ferry {

ApiCall::ApiCall(std::shared_ptr<ApiCallState> state) : m_state(std::move(state)) {}

const Http::Request &ApiCall::request() const
{
    return *m_state->request;
}

QByteArray ApiCall::param(qsizetype n) const
{
    return m_state->params.value(n);
}

QUrlQuery parseQuery(const QByteArray &query)
{
    QByteArray spaced = query;
    spaced.replace('+', "%20"); // application/x-www-form-urlencoded: '+' is a space
    return QUrlQuery(QString::fromLatin1(spaced));
}

QString ApiCall::query(const QString &name) const
{
    const QUrlQuery query = parseQuery(m_state->request->query);
    if (!query.hasQueryItem(name))
        return {};
    return query.queryItemValue(name, QUrl::FullyDecoded);
}

bool ApiCall::hasQuery(const QString &name) const
{
    return parseQuery(m_state->request->query).hasQueryItem(name);
}

const User &ApiCall::user() const
{
    return m_state->user;
}

const QHostAddress &ApiCall::client() const
{
    return m_state->client;
}

Http::BodyConsumer *ApiCall::body() const
{
    return m_state->body.get();
}

std::unique_ptr<Http::BodyConsumer> ApiCall::takeBody() const
{
    return std::move(m_state->body);
}

void ApiCall::setRouteState(std::shared_ptr<void> state) const
{
    m_state->routeState = std::move(state);
}

void *ApiCall::rawRouteState() const
{
    return m_state->routeState.get();
}

void ApiCall::respond(Http::Response response) const
{
    if (m_state->answered.exchange(true))
        return;
    m_state->handler->finish(*m_state, response);
    if (m_state->responder)
        (*m_state->responder)(std::move(response));
}

bool ApiCall::answered() const
{
    return m_state->answered.load();
}

bool ApiCall::clientGone() const
{
    return m_state->responder && !m_state->responder->connected();
}

namespace Api {

Http::Response error(int status, const char *title, const QString &message, const char *code)
{
    return Http::Response::error(status, QString::fromLatin1(title), message,
                                 QString::fromLatin1(code));
}

Http::Response fromError(const Error &e)
{
    // The status, title and code come from the one table of error codes (engine/core/error.h).
    const ErrorCodeInfo &info = errorCodeInfo(e.code);
    return error(info.httpStatus, info.httpTitle, e.toString(), info.apiCode);
}

QString hideErrorDetails(Http::Response &response,
                         const QByteArray &method,
                         const QByteArray &path,
                         const QByteArray &client)
{
    if (response.status < 500 || response.stream)
        return {};
    const QJsonObject original = QJsonDocument::fromJson(response.body).object();
    const QString detail = original.contains(QStringLiteral("message"))
                               ? original.value(QStringLiteral("message")).toString()
                               : QString::fromUtf8(response.body.left(1000));
    // Random, so a reference says nothing about the server's traffic; 48 bits are plenty to find
    // one line in a log.
    const QString reference = QStringLiteral("E-%1").arg(
        QRandomGenerator::global()->generate64() & 0xffffffffffffULL, 12, 16, QLatin1Char('0'));
    qCWarning(lcApi).noquote() << QStringLiteral("%1 %2 %3 answered %4 (reference %5): %6")
                                      .arg(QString::fromUtf8(client), QString::fromUtf8(method),
                                           QString::fromUtf8(path.left(200)))
                                      .arg(response.status)
                                      .arg(reference, detail);
    QString message;
    switch (response.status) {
    case 503:
        message = QStringLiteral("The server cannot do this right now (a part it needs, such as "
                                 "the database, does not answer). Retry in a moment; if it "
                                 "persists, give the operator the reference %1.");
        break;
    case 507:
        message = QStringLiteral("The server does not have enough free disk space for this. "
                                 "Try again later, or give the operator the reference %1.");
        break;
    default:
        message = QStringLiteral("The server failed to handle this request. Try again; if it "
                                 "persists, give the operator the reference %1 (the details are "
                                 "in the server's log).");
        break;
    }
    const QString title = original.value(QStringLiteral("error")).toString();
    const QString code = original.value(QStringLiteral("code")).toString();
    const QJsonObject object{
        {QStringLiteral("success"), false},
        {QStringLiteral("error"),
         title.isEmpty() ? QString::fromLatin1(Http::reasonPhrase(response.status)) : title},
        {QStringLiteral("message"), message.arg(reference)},
        {QStringLiteral("code"), code.isEmpty() ? QStringLiteral("internal_error") : code},
        {QStringLiteral("reference"), reference}};
    response.body = QJsonDocument(object).toJson(QJsonDocument::Compact);
    response.setHeader("Content-Type", "application/json; charset=utf-8");
    return reference;
}

Http::Response json(int status, const QJsonObject &object)
{
    return Http::Response::json(status, object);
}

Http::Response jsonText(int status, QByteArray body)
{
    Http::Response response;
    response.status = status;
    response.body = std::move(body);
    response.headers.reserve(4); // and the RateLimit pair, CORS: one allocation
    response.headers.append(
        {QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json; charset=utf-8")});
    return response;
}

} // namespace Api

} // namespace Ferry
