// docs/openapi.json stays true: its operations are exactly the routes the API's route groups
// register, each documents its errors, and live answers have the documented shapes.
#include "jobsapitestsupport.h"

#include <QCryptographicHash>
#include <QFile>
#include <QRegularExpression>
#include <QSet>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

QJsonObject loadDocument()
{
    QFile file(QStringLiteral(FERRY_SOURCE_DIR "/docs/openapi.json"));
    if (!file.open(QIODevice::ReadOnly))
        qFatal("cannot open docs/openapi.json");
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
    if (error.error != QJsonParseError::NoError)
        qFatal("docs/openapi.json: %s", qPrintable(error.errorString()));
    return doc.object();
}

// "#/components/responses/NotFound" -> that object (the same object when it is no reference).
QJsonObject resolve(const QJsonObject &document, QJsonObject object, QString *failure = nullptr)
{
    for (int depth = 0; depth < 8 && object.contains(u"$ref"); ++depth) {
        const QString ref = object.value(u"$ref").toString();
        QJsonValue at = document;
        for (const QString &part : ref.mid(2).split(u'/'))
            at = at.toObject().value(part);
        if (!ref.startsWith(u"#/") || !at.isObject()) {
            if (failure)
                *failure = QStringLiteral("unresolved $ref %1").arg(ref);
            return {};
        }
        object = at.toObject();
    }
    return object;
}

// Whether value has the schema's shape: types, required properties, nullability, enums, items.
QString shapeError(const QJsonObject &document,
                   const QJsonObject &schemaOrRef,
                   const QJsonValue &value,
                   const QString &where)
{
    const QJsonObject schema = resolve(document, schemaOrRef);
    if (value.isNull()) {
        return schema.value(u"nullable").toBool()
                   ? QString()
                   : QStringLiteral("%1 is null, not nullable").arg(where);
    }
    const QString type = schema.value(u"type").toString();
    if (schema.contains(u"enum") && !schema.value(u"enum").toArray().contains(value))
        return QStringLiteral("%1 is not one of the enum").arg(where);
    if (type == u"object") {
        if (!value.isObject())
            return QStringLiteral("%1 is not an object").arg(where);
        const QJsonObject object = value.toObject();
        for (const QJsonValue &required : schema.value(u"required").toArray()) {
            if (!object.contains(required.toString()))
                return QStringLiteral("%1 lacks %2").arg(where, required.toString());
        }
        const QJsonObject properties = schema.value(u"properties").toObject();
        for (auto it = properties.begin(); it != properties.end(); ++it) {
            if (!object.contains(it.key()))
                continue;
            const QString error = shapeError(document, it.value().toObject(),
                                             object.value(it.key()), where + u'.' + it.key());
            if (!error.isEmpty())
                return error;
        }
    } else if (type == u"array") {
        if (!value.isArray())
            return QStringLiteral("%1 is not an array").arg(where);
        int i = 0;
        for (const QJsonValue &item : value.toArray()) {
            const QString error = shapeError(document, schema.value(u"items").toObject(), item,
                                             QStringLiteral("%1[%2]").arg(where).arg(i++));
            if (!error.isEmpty())
                return error;
        }
    } else if (type == u"string" && !value.isString()) {
        return QStringLiteral("%1 is not a string").arg(where);
    } else if ((type == u"integer" || type == u"number") && !value.isDouble()) {
        return QStringLiteral("%1 is not a number").arg(where);
    } else if (type == u"boolean" && !value.isBool()) {
        return QStringLiteral("%1 is not a boolean").arg(where);
    }
    return {};
}

} // namespace

class tst_OpenApi : public QObject
{
    Q_OBJECT

private:
    QJsonObject m_doc = loadDocument();

    QJsonObject operation(const QByteArray &method, const QByteArray &path) const
    {
        return m_doc.value(u"paths")
            .toObject()
            .value(QString::fromUtf8(path))
            .toObject()
            .value(QString::fromUtf8(method.toLower()))
            .toObject();
    }

private Q_SLOTS:
    void documentsExactlyTheRegisteredRoutes()
    {
        JobsApiFixture api;
        QSet<QString> registered;
        for (ApiRouteGroup *group : api.groups()) {
            for (const ApiRoute &route : group->routes())
                registered.insert(QString::fromUtf8(route.method + ' ' + route.path));
        }
        QSet<QString> documented;
        const QJsonObject paths = m_doc.value(u"paths").toObject();
        for (auto path = paths.begin(); path != paths.end(); ++path) {
            const QJsonObject item = path.value().toObject();
            for (auto method = item.begin(); method != item.end(); ++method) {
                if (method.key() == u"parameters")
                    continue;
                documented.insert(method.key().toUpper() + u' ' + path.key());
            }
        }
        const QSet<QString> undocumented = registered - documented;
        const QSet<QString> stale = documented - registered;
        QVERIFY2(undocumented.isEmpty(),
                 qPrintable(QStringLiteral("routes missing from docs/openapi.json: ") +
                            QStringList(undocumented.values()).join(u", ")));
        QVERIFY2(stale.isEmpty(),
                 qPrintable(QStringLiteral("docs/openapi.json documents routes the server does "
                                           "not register: ") +
                            QStringList(stale.values()).join(u", ")));
    }

    void everyRouteDocumentsItsResponses()
    {
        JobsApiFixture api;
        QSet<QString> operationIds;
        for (ApiRouteGroup *group : api.groups()) {
            for (const ApiRoute &route : group->routes()) {
                const QString name = QString::fromUtf8(route.method + ' ' + route.path);
                const QJsonObject op = operation(route.method, route.path);
                QVERIFY2(!op.isEmpty(), qPrintable(name));
                const QString id = op.value(u"operationId").toString();
                QVERIFY2(!id.isEmpty() && !operationIds.contains(id), qPrintable(name));
                operationIds.insert(id);
                QVERIFY2(!op.value(u"summary").toString().isEmpty(), qPrintable(name));
                const QJsonObject responses = op.value(u"responses").toObject();
                // Its success answer: 200, or 201/202/204 where that is what the route answers.
                bool success = false;
                for (const char *status : {"200", "201", "202", "204"})
                    success = success || responses.contains(QLatin1String(status));
                QVERIFY2(success, qPrintable(name + u" lacks its 2xx answer"));

                QStringList needed;
                if (route.authenticated)
                    needed << QStringLiteral("401") << QStringLiteral("403");
                else
                    QVERIFY2(op.contains(u"security") && op.value(u"security").toArray().isEmpty(),
                             qPrintable(name + u" must say it needs no token (security: [])"));
                if (route.rateLimited)
                    needed << QStringLiteral("429");
                QSet<QString> pathParams;
                static const QRegularExpression param(QStringLiteral("\\{([^}]+)\\}"));
                for (const auto &match : param.globalMatch(QString::fromUtf8(route.path)))
                    pathParams.insert(match.captured(1));
                if (!pathParams.isEmpty())
                    needed << QStringLiteral("404");
                bool hasQuery = false;
                for (const QJsonValue &p : op.value(u"parameters").toArray()) {
                    QString failure;
                    const QJsonObject parameter = resolve(m_doc, p.toObject(), &failure);
                    QVERIFY2(failure.isEmpty(), qPrintable(name + u": " + failure));
                    const QString in = parameter.value(u"in").toString();
                    if (in == u"query")
                        hasQuery = true;
                    if (in == u"path") {
                        QVERIFY2(parameter.value(u"required").toBool(), qPrintable(name));
                        pathParams.remove(parameter.value(u"name").toString());
                    }
                }
                QVERIFY2(pathParams.isEmpty(),
                         qPrintable(name + u" does not declare its path parameters"));
                if (hasQuery)
                    needed << QStringLiteral("400");
                for (const QString &status : needed) {
                    QVERIFY2(responses.contains(status),
                             qPrintable(name + u" does not document " + status));
                }
                // Every error answer is the one error shape.
                for (auto it = responses.begin(); it != responses.end(); ++it) {
                    QString failure;
                    const QJsonObject response = resolve(m_doc, it.value().toObject(), &failure);
                    QVERIFY2(failure.isEmpty(), qPrintable(name + u": " + failure));
                    QVERIFY2(!response.value(u"description").toString().isEmpty(),
                             qPrintable(name + u' ' + it.key()));
                    if (it.key().toInt() < 400)
                        continue;
                    const QString schema = response.value(u"content")
                                               .toObject()
                                               .value(u"application/json")
                                               .toObject()
                                               .value(u"schema")
                                               .toObject()
                                               .value(u"$ref")
                                               .toString();
                    QVERIFY2(schema == u"#/components/schemas/Error",
                             qPrintable(name + u' ' + it.key() + u" is not an Error"));
                }
            }
        }
    }

    // GET /api/v1/openapi.json answers docs/openapi.json byte for byte, to anyone without a token
    // (still rate limited), with a strong ETag of its bytes that If-None-Match revalidates.
    void servesTheDocument()
    {
        JobsApiFixture api;
        QFile file(QStringLiteral(FERRY_SOURCE_DIR "/docs/openapi.json"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray onDisk = file.readAll();
        const QString path = QStringLiteral("/api/v1/openapi.json");
        const JobsReply reply = api.get(path, {}); // no token
        QCOMPARE(reply.status, 200);
        QVERIFY2(reply.body == onDisk, "the served document is not docs/openapi.json");
        QCOMPARE(reply.headers.value("content-type"), QByteArray("application/json"));
        QCOMPARE(reply.headers.value("cache-control"), QByteArray("no-cache"));
        const QByteArray etag =
            '"' + QCryptographicHash::hash(onDisk, QCryptographicHash::Sha256).toHex() + '"';
        QCOMPARE(reply.headers.value("etag"), etag);
        QVERIFY2(reply.headers.contains("ratelimit"), "not counted against the rate limit");

        // The ETag back: 304, no body, the same ETag. Also in a list, weak, or as "*".
        const QList<QByteArray> matching = {etag, "\"0123\", " + etag, "W/" + etag, "*"};
        for (const QByteArray &noneMatch : matching) {
            const JobsReply same = api.send("GET", path, {}, {{"If-None-Match", noneMatch}}, {});
            QVERIFY2(same.status == 304, noneMatch.constData());
            QVERIFY(same.body.isEmpty());
            QCOMPARE(same.headers.value("etag"), etag);
        }
        // Another ETag (an older document): the whole document again.
        const JobsReply changed =
            api.send("GET", path, {}, {{"If-None-Match", "\"0123456789\""}}, {});
        QCOMPARE(changed.status, 200);
        QVERIFY(changed.body == onDisk);
        // With a token it is the same document (the token is not needed, and not refused).
        const JobsReply withToken = api.get(path, api.aliceToken);
        QCOMPARE(withToken.status, 200);
        QVERIFY(withToken.body == onDisk);
    }

    // Live answers match the documented schemas (success and error).
    void answersHaveTheDocumentedShape()
    {
        JobsApiFixture api;
        const SubmittedMigration import = api.migrate(
            api.alice.id, QStringLiteral("people"), "id,name\n1,a\nx,b\n",
            QJsonDocument::fromJson("{\"fields\":[{\"name\":\"id\",\"type\":\"integer\","
                                    "\"required\":true},{\"name\":\"name\"}]}")
                .object());
        api.queue->setPaused(true).ok();
        const qint64 pending = api.enqueue(api.alice.id);
        struct Case
        {
            QByteArray method;
            QByteArray route;
            QString path;
            int status;
            QList<std::pair<QByteArray, QByteArray>> headers = {};
            QByteArray body = {};
        };
        const QString job = QString::number(import.jobId);
        const QList<Case> cases = {
            {"GET", "/api/v1/health", QStringLiteral("/api/v1/health"), 200},
            {"GET", "/api/v1/openapi.json", QStringLiteral("/api/v1/openapi.json"), 200},
            {"GET", "/api/v1/jobs", QStringLiteral("/api/v1/jobs?limit=1"), 200},
            {"GET", "/api/v1/jobs", QStringLiteral("/api/v1/jobs?limit=0"), 400},
            {"GET", "/api/v1/jobs/{id}", QStringLiteral("/api/v1/jobs/") + job, 200},
            {"GET", "/api/v1/jobs/{id}", QStringLiteral("/api/v1/jobs/999"), 404},
            {"GET", "/api/v1/jobs/{id}/report", QStringLiteral("/api/v1/jobs/%1/report").arg(job),
             200},
            {"POST", "/api/v1/jobs/{id}/cancel",
             QStringLiteral("/api/v1/jobs/%1/cancel").arg(pending), 200},
            {"POST", "/api/v1/jobs/{id}/cancel", QStringLiteral("/api/v1/jobs/%1/cancel").arg(job),
             409},
            {"POST", "/api/v1/jobs/{id}/retry",
             QStringLiteral("/api/v1/jobs/%1/retry").arg(pending), 200},
            {"POST", "/api/v1/jobs/{id}/retry", QStringLiteral("/api/v1/jobs/%1/retry").arg(job),
             409},
            {"GET", "/api/v1/sessions/{id}", QStringLiteral("/api/v1/sessions/") + import.sessionId,
             200},
            {"GET", "/api/v1/datasets", QStringLiteral("/api/v1/datasets"), 200},
            {"GET", "/api/v1/datasets/{name}/records",
             QStringLiteral("/api/v1/datasets/people/records?format=xml"), 400},
            {"GET", "/api/v1/datasets/{name}", QStringLiteral("/api/v1/datasets/people"), 200},
            {"GET", "/api/v1/datasets/{name}", QStringLiteral("/api/v1/datasets/nothing"), 404},
            {"GET", "/api/v1/datasets/{name}/records",
             QStringLiteral("/api/v1/datasets/people/records?format=json&limit=1"), 200},
            {"GET", "/api/v1/datasets/{name}/records",
             QStringLiteral("/api/v1/datasets/people/records?format=json&limit=0"), 400},
            {"DELETE", "/api/v1/datasets/{name}/records",
             QStringLiteral("/api/v1/datasets/people/records"), 200},
            {"DELETE", "/api/v1/datasets/{name}", QStringLiteral("/api/v1/datasets/nothing"), 404},
            // Quota and uploads: the quota is asked before and after an upload counted in it.
            {"GET", "/api/v1/quota", QStringLiteral("/api/v1/quota"), 200},
            {"POST",
             "/api/v1/uploads",
             QStringLiteral("/api/v1/uploads?dataset=people"),
             202,
             {{"Content-Type", "text/csv"}},
             "id,name\n7,g\n"},
            // The upload's job waits (the queue is paused): a delete of its dataset is refused.
            {"DELETE", "/api/v1/datasets/{name}", QStringLiteral("/api/v1/datasets/people"), 409},
            {"DELETE", "/api/v1/datasets/{name}/records",
             QStringLiteral("/api/v1/datasets/people/records"), 409},
            {"POST",
             "/api/v1/uploads",
             QStringLiteral("/api/v1/uploads"),
             400,
             {{"Content-Type", "text/csv"}},
             "id,name\n7,g\n"},
            {"POST",
             "/api/v1/uploads",
             QStringLiteral("/api/v1/uploads?dataset=people"),
             415,
             {{"Content-Type", "image/png"}},
             "x"},
            {"GET", "/api/v1/quota", QStringLiteral("/api/v1/quota"), 200},
            // Re-runs and dry runs of the stored upload (the queue is paused: the re-run waits,
            // and a second one is refused).
            {"POST",
             "/api/v1/sessions/{id}/dry-run",
             QStringLiteral("/api/v1/sessions/%1/dry-run").arg(import.sessionId),
             200,
             {{"Content-Type", "application/json"}},
             "{\"rows\": 1}"},
            {"POST",
             "/api/v1/sessions/{id}/dry-run",
             QStringLiteral("/api/v1/sessions/%1/dry-run").arg(import.sessionId),
             400,
             {{"Content-Type", "application/json"}},
             "{\"rows\": 0}"},
            {"POST",
             "/api/v1/dry-run",
             QStringLiteral("/api/v1/dry-run?format=csv"),
             200,
             {{"Content-Type", "text/csv"}},
             "id,name\n7,g\n"},
            {"POST",
             "/api/v1/dry-run",
             QStringLiteral("/api/v1/dry-run?format=csv"),
             415,
             {{"Content-Type", "image/png"}},
             "x"},
            {"POST",
             "/api/v1/sessions/{id}/migrations",
             QStringLiteral("/api/v1/sessions/%1/migrations").arg(import.sessionId),
             202,
             {{"Content-Type", "application/json"}},
             "{\"dataset\": \"copy\"}"},
            {"POST",
             "/api/v1/sessions/{id}/migrations",
             QStringLiteral("/api/v1/sessions/%1/migrations").arg(import.sessionId),
             409,
             {{"Content-Type", "application/json"}},
             "{}"},
            {"POST",
             "/api/v1/sessions/{id}/migrations",
             QStringLiteral("/api/v1/sessions/nope/migrations"),
             404,
             {{"Content-Type", "application/json"}},
             "{}"},
            {"POST",
             "/api/v1/tus",
             QStringLiteral("/api/v1/tus"),
             201,
             {{"Tus-Resumable", "1.0.0"},
              {"Upload-Length", "12"},
              {"Upload-Metadata", "dataset " + QByteArray("people").toBase64()}},
             QByteArray()},
            {"PATCH",
             "/api/v1/tus/{id}",
             QStringLiteral("/api/v1/tus/nope"),
             404,
             {{"Tus-Resumable", "1.0.0"},
              {"Upload-Offset", "0"},
              {"Content-Type", "application/offset+octet-stream"}},
             "x"},
            {"POST", "/api/v1/tus", QStringLiteral("/api/v1/tus"), 412, {}, QByteArray()},
            // Deleting: a pending job is refused; an unknown upload is 404.
            {"DELETE", "/api/v1/jobs/{id}", QStringLiteral("/api/v1/jobs/%1").arg(pending), 409},
            {"DELETE", "/api/v1/sessions/{id}", QStringLiteral("/api/v1/sessions/nope"), 404},
        };
        for (const Case &c : cases) {
            const JobsReply reply = api.send(c.method, c.path, api.aliceToken, c.headers, c.body);
            QCOMPARE(reply.status, c.status);
            const QJsonObject response = resolve(m_doc, operation(c.method, c.route)
                                                            .value(u"responses")
                                                            .toObject()
                                                            .value(QString::number(c.status))
                                                            .toObject());
            const QJsonObject schema = response.value(u"content")
                                           .toObject()
                                           .value(u"application/json")
                                           .toObject()
                                           .value(u"schema")
                                           .toObject();
            QVERIFY2(!schema.isEmpty(), qPrintable(c.path));
            const QString error = shapeError(m_doc, schema, reply.json, c.path);
            QVERIFY2(error.isEmpty(), qPrintable(error + u": " + QString::fromUtf8(reply.body)));
        }
    }
};

QTEST_GUILESS_MAIN(tst_OpenApi)
#include "tst_openapi.moc"
