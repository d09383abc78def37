// The job API over real HTTP on loopback: a session with its job, one job's fields, the job list
// (its cursor, filters and bad parameters) and a job's report. Long-polls are in tst_joblongpoll,
// cancel and retry in tst_jobactions, dataset routes in tst_datasetsapi, the isolation walk in
// tst_apiisolation.
#include "jobsapicases.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_JobsApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sessionWithItsJob()
    {
        JobsApiFixture api;
        const QByteArray csv = peopleCsv(5);
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), csv, peopleMapping());
        const JobsReply reply =
            api.get(QStringLiteral("/api/v1/sessions/") + import.sessionId, api.aliceToken);
        QCOMPARE(reply.status, 200);
        QVERIFY(reply.json.value(u"success").toBool());
        const QJsonObject session = reply.json.value(u"session").toObject();
        QCOMPARE(session.value(u"id").toString(), import.sessionId);
        QCOMPARE(session.value(u"fileName").toString(), QStringLiteral("data.csv"));
        QCOMPARE(session.value(u"contentType").toString(), QStringLiteral("text/csv"));
        QCOMPARE(session.value(u"sizeBytes").toInteger(), csv.size());
        QVERIFY(session.value(u"createdAt").toInteger() > 0);
        QCOMPARE(session.value(u"jobId").toString(), QString::number(import.jobId));
        QCOMPARE(session.value(u"jobStatus").toString(), QStringLiteral("completed"));

        const JobsReply missing =
            api.get(QStringLiteral("/api/v1/sessions/no-such-session"), api.aliceToken);
        QCOMPARE(missing.status, 404);
        QCOMPARE(missing.json.value(u"code").toString(), QStringLiteral("not_found"));
        QCOMPARE(api.get(QStringLiteral("/api/v1/sessions/x"), {}).status, 401);
    }

    void jobFields()
    {
        JobsApiFixture api;
        const qint64 id = api.enqueue(api.alice.id);
        const JobsReply reply = api.get(QStringLiteral("/api/v1/jobs/%1").arg(id), api.aliceToken);
        QCOMPARE(reply.status, 200);
        const QJsonObject job = reply.json.value(u"job").toObject();
        for (const char *key :
             {"id", "type", "status", "priority", "attempts", "maxAttempts", "sessionId",
              "progress", "error", "result", "createdAt", "startedAt", "finishedAt"}) {
            QVERIFY2(job.contains(QLatin1String(key)), key);
        }
        QCOMPARE(job.value(u"status").toString(), QStringLiteral("pending"));
        QCOMPARE(job.value(u"attempts").toInt(), 0);
    }

    void cursorWalksEveryJobOnce_data()
    {
        QTest::addColumn<int>("limit");
        QTest::newRow("1") << 1;
        QTest::newRow("7") << 7;
        QTest::newRow("25 (one page)") << 25;
        QTest::newRow("500") << 500;
    }

    void cursorWalksEveryJobOnce()
    {
        QFETCH(int, limit);
        JobsApiFixture api;
        QList<qint64> expected;
        for (int i = 0; i < 25; ++i) {
            expected.prepend(api.enqueue(api.alice.id));
            api.enqueue(api.bob.id); // interleaved: Bob's jobs never show up in Alice's pages
        }
        QList<qint64> seen;
        QString cursor;
        int pages = 0;
        while (true) {
            QString path = QStringLiteral("/api/v1/jobs?limit=%1").arg(limit);
            if (!cursor.isEmpty())
                path += QStringLiteral("&after=") + cursor;
            const JobsReply reply = api.get(path, api.aliceToken);
            QCOMPARE(reply.status, 200);
            const QJsonArray page = reply.json.value(u"jobs").toArray();
            QVERIFY(page.size() <= limit);
            seen += jobIds(page);
            ++pages;
            QVERIFY(pages <= 26);
            const QJsonValue next = reply.json.value(u"next");
            QVERIFY(reply.json.contains(u"next"));
            if (next.isNull())
                break;
            QCOMPARE(page.size(), limit); // only a full page has a next one
            cursor = next.toString();
        }
        QCOMPARE(seen, expected); // every job once, newest first
    }

    void filters()
    {
        JobsApiFixture api;
        QList<qint64> people, cancelled;
        for (int i = 0; i < 12; ++i) {
            const qint64 id =
                api.enqueue(api.alice.id, i % 3 == 0 ? QStringLiteral("people") : QString());
            if (i % 3 == 0)
                people.prepend(id);
            if (i % 2 == 0) {
                QVERIFY(api.queue->cancel(id).ok());
                cancelled.prepend(id);
            }
        }
        api.enqueue(api.bob.id, QStringLiteral("people"));
        auto list = [&](const QString &query) {
            const JobsReply reply =
                api.get(QStringLiteral("/api/v1/jobs?") + query, api.aliceToken);
            if (reply.status != 200)
                qWarning() << reply.body;
            return jobIds(reply.json.value(u"jobs").toArray());
        };
        QCOMPARE(list(QStringLiteral("dataset=people")), people);
        QCOMPARE(list(QStringLiteral("status=cancelled")), cancelled);
        QList<qint64> both;
        for (qint64 id : people) {
            if (cancelled.contains(id))
                both.append(id);
        }
        QCOMPARE(list(QStringLiteral("status=cancelled&dataset=people")), both);
        QCOMPARE(list(QStringLiteral("status=running")), QList<qint64>());
        QCOMPARE(list(QStringLiteral("dataset=nothing")), QList<qint64>());
        // Filters and the cursor together: two by two.
        QList<qint64> walked;
        QString cursor;
        do {
            const JobsReply reply =
                api.get(QStringLiteral("/api/v1/jobs?status=cancelled&limit=2") +
                            (cursor.isEmpty() ? QString() : QStringLiteral("&after=") + cursor),
                        api.aliceToken);
            walked += jobIds(reply.json.value(u"jobs").toArray());
            cursor = reply.json.value(u"next").toString();
        } while (!cursor.isEmpty());
        QCOMPARE(walked, cancelled);
    }

    void badParameters_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("limit 0") << "/api/v1/jobs?limit=0"
                                 << "1 to 500";
        QTest::newRow("limit 501") << "/api/v1/jobs?limit=501"
                                   << "1 to 500";
        QTest::newRow("limit text") << "/api/v1/jobs?limit=ten"
                                    << "1 to 500";
        QTest::newRow("limit negative") << "/api/v1/jobs?limit=-5"
                                        << "1 to 500";
        QTest::newRow("after 0") << "/api/v1/jobs?after=0"
                                 << "next";
        QTest::newRow("after text") << "/api/v1/jobs?after=abc"
                                    << "next";
        QTest::newRow("status") << "/api/v1/jobs?status=done"
                                << "pending, running, completed, failed, cancelled, dead";
        QTest::newRow("dataset") << "/api/v1/jobs?dataset=a%20b"
                                 << "letters, digits";
        QTest::newRow("wait 61") << "/api/v1/jobs/1?wait=61"
                                 << "0 to 60";
        QTest::newRow("wait negative") << "/api/v1/jobs/1?wait=-1"
                                       << "0 to 60";
        QTest::newRow("wait text") << "/api/v1/jobs/1?wait=soon"
                                   << "0 to 60";
        QTest::newRow("format") << "/api/v1/datasets/people/records?format=xml"
                                << "ndjson, csv or json";
    }

    void badParameters()
    {
        QFETCH(QString, path);
        QFETCH(QString, mentions);
        JobsApiFixture api;
        api.enqueue(api.alice.id);
        const JobsReply reply = api.get(path, api.aliceToken);
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_parameter"));
        const QString message = reply.json.value(u"message").toString();
        QVERIFY2(message.contains(mentions), qPrintable(message));
    }

    void report()
    {
        JobsApiFixture api;
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(4, 3), peopleMapping());
        const JobsReply reply =
            api.get(QStringLiteral("/api/v1/jobs/%1/report").arg(import.jobId), api.aliceToken);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"rowsRejected").toInteger(), 3);
        const QJsonArray errors = reply.json.value(u"errors").toArray();
        QCOMPARE(errors.size(), 3);
        QCOMPARE(errors.at(0).toObject().value(u"line").toInteger(), 6); // header, 4 rows, bad
        QCOMPARE(errors.at(0).toObject().value(u"field").toString(), QStringLiteral("id"));
        QVERIFY(!errors.at(0).toObject().value(u"reason").toString().isEmpty());

        const qint64 plain = api.enqueue(api.alice.id);
        const JobsReply none =
            api.get(QStringLiteral("/api/v1/jobs/%1/report").arg(plain), api.aliceToken);
        QCOMPARE(none.status, 200);
        QCOMPARE(none.json.value(u"errors").toArray().size(), 0);
        QCOMPARE(none.json.value(u"rowsRejected").toInteger(), 0);
        QCOMPARE(api.get(QStringLiteral("/api/v1/jobs/999/report"), api.aliceToken).status, 404);
    }
};

QTEST_GUILESS_MAIN(tst_JobsApi)
#include "tst_jobsapi.moc"
