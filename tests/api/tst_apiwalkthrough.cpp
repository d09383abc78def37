// The API walked as a client walks it, over HTTP only: upload a CSV (raw, multipart or gzip),
// follow its job with long-polls until it completed, look at its session, export the dataset as
// NDJSON and find every row of the CSV in it, and see the upload counted in the quota.
#include "gzip.h"
#include "jobsapitestsupport.h"

using namespace Ferry;
using namespace Ferry::Test;

namespace {

const QByteArray s_boundary = "------------------------walkthrough0f3c2a";

// The rows of the CSV the walkthrough uploads: id, name, city; some cells need quoting.
QList<QStringList> peopleRows()
{
    QList<QStringList> rows;
    for (int i = 1; i <= 40; ++i) {
        QString name = QStringLiteral("Person %1").arg(i);
        if (i % 10 == 3)
            name = QStringLiteral("Lovelace, Ada %1").arg(i); // a comma inside a cell
        if (i % 10 == 7)
            name = QStringLiteral("Grace \"Amazing\" %1").arg(i); // quotes inside a cell
        rows.append(
            {QString::number(i), name, i % 2 ? QStringLiteral("Oslo") : QStringLiteral("Lima")});
    }
    return rows;
}

QByteArray csvCell(const QString &cell)
{
    QByteArray text = cell.toUtf8();
    if (!text.contains(',') && !text.contains('"'))
        return text;
    return '"' + text.replace("\"", "\"\"") + '"';
}

QByteArray toCsv(const QList<QStringList> &rows)
{
    QByteArray csv = "id,name,city\n";
    for (const QStringList &row : rows) {
        QByteArrayList cells;
        for (const QString &cell : row)
            cells.append(csvCell(cell));
        csv += cells.join(',') + '\n';
    }
    return csv;
}

// A form as curl -F sends it: the dataset field, then the file.
QByteArray form(const QString &dataset, const QByteArray &file, const QByteArray &fileName)
{
    return "--" + s_boundary + "\r\nContent-Disposition: form-data; name=\"dataset\"\r\n\r\n" +
           dataset.toUtf8() + "\r\n--" + s_boundary +
           "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + fileName +
           "\"\r\nContent-Type: text/csv\r\n\r\n" + file + "\r\n--" + s_boundary + "--\r\n";
}

// A JSON value as the text a CSV cell would hold.
QString cellText(const QJsonValue &value)
{
    if (value.isDouble())
        return QString::number(value.toInteger());
    return value.toString();
}

} // namespace

class tst_ApiWalkthrough : public QObject
{
    Q_OBJECT

private:
    struct Accepted
    {
        qint64 jobId = 0;
        QString sessionId;
    };

    // POST /api/v1/uploads: 202 with the session, the job and its Location.
    static Accepted upload(JobsApiFixture &api,
                           const QString &query,
                           const QList<std::pair<QByteArray, QByteArray>> &headers,
                           const QByteArray &body)
    {
        const JobsReply reply = api.send("POST", QStringLiteral("/api/v1/uploads") + query,
                                         api.aliceToken, headers, body);
        if (reply.status != 202)
            qFatal("upload answered %d: %s", reply.status, reply.body.constData());
        Accepted accepted;
        accepted.jobId = reply.json.value(u"jobId").toString().toLongLong();
        accepted.sessionId = reply.json.value(u"sessionId").toString();
        if (!reply.json.value(u"success").toBool() ||
            reply.json.value(u"status").toString() != u"pending" || accepted.jobId <= 0 ||
            accepted.sessionId.isEmpty() ||
            reply.headers.value("location") != "/api/v1/jobs/" + QByteArray::number(accepted.jobId))
            qFatal("unexpected 202 answer: %s", reply.body.constData());
        return accepted;
    }

    // GET /api/v1/jobs/{id}?wait=30 until the job is finished; its last state.
    static QJsonObject follow(JobsApiFixture &api, qint64 jobId)
    {
        QJsonObject job;
        static const QStringList finished = {QStringLiteral("completed"), QStringLiteral("failed"),
                                             QStringLiteral("cancelled"), QStringLiteral("dead")};
        for (int polls = 0; polls < 40; ++polls) {
            const JobsReply reply =
                api.get(QStringLiteral("/api/v1/jobs/%1?wait=30").arg(jobId), api.aliceToken);
            if (reply.status != 200)
                qFatal("following job %lld: %d", jobId, reply.status);
            job = reply.json.value(u"job").toObject();
            if (finished.contains(job.value(u"status").toString()))
                break;
        }
        return job;
    }

    // The rest of the walk once the upload was accepted: job, session, export, quota.
    static void walk(JobsApiFixture &api,
                     const Accepted &accepted,
                     const QString &dataset,
                     const QList<QStringList> &rows,
                     const QString &fileName)
    {
        const QJsonObject job = follow(api, accepted.jobId);
        QCOMPARE(job.value(u"status").toString(), QStringLiteral("completed"));
        QCOMPARE(job.value(u"type").toString(), QStringLiteral("migrate"));
        QCOMPARE(job.value(u"sessionId").toString(), accepted.sessionId);
        const QJsonObject result = job.value(u"result").toObject();
        QCOMPARE(result.value(u"dataset").toString(), dataset);
        QCOMPARE(result.value(u"rowsImported").toInteger(), rows.size());
        QCOMPARE(result.value(u"rowsRejected").toInteger(), 0);

        const JobsReply session =
            api.get(QStringLiteral("/api/v1/sessions/") + accepted.sessionId, api.aliceToken);
        QCOMPARE(session.status, 200);
        const QJsonObject s = session.json.value(u"session").toObject();
        QCOMPARE(s.value(u"id").toString(), accepted.sessionId);
        QCOMPARE(s.value(u"jobId").toString(), QString::number(accepted.jobId));
        QCOMPARE(s.value(u"jobStatus").toString(), QStringLiteral("completed"));
        QCOMPARE(s.value(u"fileName").toString(), fileName);
        QVERIFY(s.value(u"sizeBytes").toInteger() > 0);

        const JobsReply exported =
            api.get(QStringLiteral("/api/v1/datasets/%1/records?format=ndjson").arg(dataset),
                    api.aliceToken);
        QCOMPARE(exported.status, 200);
        QCOMPARE(exported.headers.value("content-type"),
                 QByteArray("application/x-ndjson; charset=utf-8"));
        QHash<QString, QJsonObject> byId;
        for (const QByteArray &line : exported.body.split('\n')) {
            if (line.isEmpty())
                continue;
            QJsonParseError error;
            const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
            QVERIFY2(error.error == QJsonParseError::NoError && doc.isObject(), line.constData());
            const QJsonObject record = doc.object();
            const QString id = cellText(record.value(u"id"));
            QVERIFY2(!byId.contains(id), qPrintable(u"record twice: " + id));
            byId.insert(id, record);
        }
        QCOMPARE(byId.size(), rows.size());
        for (const QStringList &row : rows) {
            QVERIFY2(byId.contains(row.at(0)), qPrintable(u"no record " + row.at(0)));
            const QJsonObject record = byId.value(row.at(0));
            QCOMPARE(record.size(), 3);
            QCOMPARE(cellText(record.value(u"name")), row.at(1));
            QCOMPARE(cellText(record.value(u"city")), row.at(2));
        }
    }

    // GET /api/v1/quota: the uploads counted, their bytes the sessions' sizes.
    static void quotaCounts(JobsApiFixture &api, const QList<Accepted> &uploads)
    {
        qint64 bytes = 0;
        for (const Accepted &accepted : uploads) {
            bytes +=
                api.get(QStringLiteral("/api/v1/sessions/") + accepted.sessionId, api.aliceToken)
                    .json.value(u"session")
                    .toObject()
                    .value(u"sizeBytes")
                    .toInteger();
        }
        const JobsReply reply = api.get(QStringLiteral("/api/v1/quota"), api.aliceToken);
        QCOMPARE(reply.status, 200);
        const QJsonObject quota = reply.json.value(u"quota").toObject();
        QCOMPARE(quota.value(u"uploads").toObject().value(u"used").toInteger(), uploads.size());
        QCOMPARE(quota.value(u"bytes").toObject().value(u"used").toInteger(), bytes);
        QVERIFY(quota.value(u"periodStart").toInteger() < quota.value(u"resetsAt").toInteger());
        // Bob uploaded nothing.
        const JobsReply bob = api.get(QStringLiteral("/api/v1/quota"), api.bobToken);
        QCOMPARE(bob.json.value(u"quota").toObject().value(u"uploads").toObject().value(u"used"),
                 QJsonValue(0));
    }

private Q_SLOTS:
    void rawCsv()
    {
        JobsApiFixture api;
        api.startDispatcher();
        const QList<QStringList> rows = peopleRows();
        const Accepted accepted = upload(api, QStringLiteral("?dataset=people"),
                                         {{"Content-Type", "text/csv"}}, toCsv(rows));
        walk(api, accepted, QStringLiteral("people"), rows,
             QString()); // a raw body has no file name
        quotaCounts(api, {accepted});
    }

    void multipartCsv()
    {
        JobsApiFixture api;
        api.startDispatcher();
        const QList<QStringList> rows = peopleRows();
        const Accepted accepted = upload(
            api, QString(), {{"Content-Type", "multipart/form-data; boundary=" + s_boundary}},
            form(QStringLiteral("formed"), toCsv(rows), "people.csv"));
        walk(api, accepted, QStringLiteral("formed"), rows, QStringLiteral("people.csv"));
        quotaCounts(api, {accepted});
    }

    void gzipCsv()
    {
        JobsApiFixture api;
        api.startDispatcher();
        const QList<QStringList> rows = peopleRows();
        const Accepted accepted =
            upload(api, QStringLiteral("?dataset=zipped"),
                   {{"Content-Type", "text/csv"}, {"Content-Encoding", "gzip"}}, gzip(toCsv(rows)));
        walk(api, accepted, QStringLiteral("zipped"), rows,
             QString()); // a raw body has no file name
        quotaCounts(api, {accepted});
    }

    void quotaCountsEveryUpload()
    {
        JobsApiFixture api;
        api.startDispatcher();
        const QList<QStringList> rows = peopleRows();
        const QByteArray csv = toCsv(rows);
        QList<Accepted> uploads;
        uploads.append(
            upload(api, QStringLiteral("?dataset=a"), {{"Content-Type", "text/csv"}}, csv));
        uploads.append(upload(api, QString(),
                              {{"Content-Type", "multipart/form-data; boundary=" + s_boundary}},
                              form(QStringLiteral("b"), csv, "b.csv")));
        uploads.append(upload(api, QStringLiteral("?dataset=c"),
                              {{"Content-Type", "text/csv"}, {"Content-Encoding", "gzip"}},
                              gzip(csv)));
        for (const Accepted &accepted : uploads)
            QCOMPARE(follow(api, accepted.jobId).value(u"status").toString(),
                     QStringLiteral("completed"));
        quotaCounts(api, uploads);
        const JobsReply datasets = api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken);
        QCOMPARE(datasets.json.value(u"datasets").toArray().size(), 3);
    }
};

QTEST_GUILESS_MAIN(tst_ApiWalkthrough)
#include "tst_apiwalkthrough.moc"
