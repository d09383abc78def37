#include "ratelimit/ratelimiter.h"
#include "rssmeaningful.h"

#include <QFile>
#include <QJsonDocument>
#include <QTest>

#include <atomic>
#include <thread>
#include <vector>

using namespace Ferry;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<RateLimiter> makeLimiter(const Clock &clock, RateLimitPolicy policy = {})
{
    auto limiter = RateLimiter::create(policy, clock);
    if (!limiter)
        qFatal("%s", qPrintable(limiter.error().toString()));
    return std::move(limiter).value();
}

// Resident set size in bytes, from /proc (Linux).
qint64 residentBytes()
{
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly))
        return -1;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    return fields.size() > 1 ? fields.at(1).toLongLong() * 4096 : -1;
}

QString floodKey(int i)
{
    return QString::asprintf("v6:2001:db8:%04x:%02x00::/56", (i >> 8) & 0xffff, i & 0xff);
}

} // namespace

class tst_RateLimiter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fiftyPassAndTheFiftyFirstIsRefused()
    {
        ManualClock clock;
        auto limiter = makeLimiter(clock);
        const QString key = QStringLiteral("v4:203.0.113.7");
        for (int i = 0; i < 50; ++i) {
            const RateLimitDecision decision = limiter->check(key);
            QVERIFY2(decision.allowed, qPrintable(QString::number(i)));
            QCOMPARE(decision.remaining, 49 - i);
            QCOMPARE(decision.retryAfterSeconds, 0);
            QCOMPARE(decision.resetSeconds, (i + 1) * 18);
        }
        const RateLimitDecision refused = limiter->check(key);
        QVERIFY(!refused.allowed);
        QCOMPARE(refused.remaining, 0);
        QCOMPARE(refused.retryAfterSeconds, 18); // one emission interval: 900 s / 50
        QCOMPARE(refused.resetSeconds, 900);
        QCOMPARE(limiter->headerValue(refused), QByteArray(R"("default";r=0;t=900)"));
        QCOMPARE(RateLimiter::retryAfterHeaderValue(refused), QByteArray("18"));
    }

    void recoversAsTheWindowSlides()
    {
        ManualClock clock;
        auto limiter = makeLimiter(clock);
        const QString key = QStringLiteral("k");
        for (int i = 0; i < 50; ++i)
            QVERIFY(limiter->check(key).allowed);

        clock.advance(17'999);
        RateLimitDecision decision = limiter->check(key);
        QVERIFY(!decision.allowed);
        QCOMPARE(decision.retryAfterSeconds, 1); // 1 ms left rounds up to a whole second
        clock.advance(1);
        decision = limiter->check(key);
        QVERIFY(decision.allowed);
        QCOMPARE(decision.remaining, 0);
        QVERIFY(!limiter->check(key).allowed);

        // Refused requests do not push recovery back.
        for (int i = 0; i < 100; ++i)
            QVERIFY(!limiter->check(key).allowed);
        clock.advance(18'000);
        QVERIFY(limiter->check(key).allowed);

        // A whole window after the last pass, the full quota is back.
        clock.advance(900'000);
        for (int i = 0; i < 50; ++i) {
            decision = limiter->check(key);
            QVERIFY(decision.allowed);
            QCOMPARE(decision.remaining, 49 - i);
        }
        QVERIFY(!limiter->check(key).allowed);
    }

    void noDoubleBurstAtAFixedWindowEdge()
    {
        // A fixed 15-minute window would pass 50 at 899 s and 50 more at 901 s.
        ManualClock clock(0);
        auto limiter = makeLimiter(clock);
        const QString key = QStringLiteral("edge");
        int passed = 0;
        clock.set(899'000);
        for (int i = 0; i < 50; ++i)
            passed += limiter->check(key).allowed ? 1 : 0;
        QCOMPARE(passed, 50);
        clock.set(901'000);
        for (int i = 0; i < 50; ++i)
            passed += limiter->check(key).allowed ? 1 : 0;
        QCOMPARE(passed, 50); // 2 s later: not even one interval (18 s) has gone by
        clock.set(899'000 + 900'000);
        for (int i = 0; i < 60; ++i)
            passed += limiter->check(key).allowed ? 1 : 0;
        QCOMPARE(passed, 100); // any 900 s span holds at most 50 more
    }

    void unevenIntervalIsExact()
    {
        // 10 s / 7 = 1428.571... ms: rounding it either way would be off by one request.
        ManualClock clock;
        RateLimitPolicy policy;
        policy.limit = 7;
        policy.window = 10s;
        auto limiter = makeLimiter(clock, policy);
        for (int i = 0; i < 7; ++i)
            QVERIFY(limiter->check(QStringLiteral("k")).allowed);
        QVERIFY(!limiter->check(QStringLiteral("k")).allowed);
        clock.advance(1428);
        QVERIFY(!limiter->check(QStringLiteral("k")).allowed);
        clock.advance(1);
        QVERIFY(limiter->check(QStringLiteral("k")).allowed);
        clock.advance(10'000); // a whole window after the last pass
        QCOMPARE(limiter->check(QStringLiteral("k")).remaining, 6);
    }

    void headerValuesAndBody()
    {
        ManualClock clock;
        auto limiter = makeLimiter(clock);
        QCOMPARE(limiter->policyHeaderValue(), QByteArray(R"("default";q=50;w=900)"));
        const RateLimitDecision first = limiter->check(QStringLiteral("k"));
        QCOMPARE(limiter->headerValue(first), QByteArray(R"("default";r=49;t=18)"));
        QCOMPARE(QByteArray(RateLimiter::PolicyHeaderName), QByteArray("RateLimit-Policy"));
        QCOMPARE(QByteArray(RateLimiter::HeaderName), QByteArray("RateLimit"));
        QCOMPARE(QByteArray(RateLimiter::RetryAfterHeaderName), QByteArray("Retry-After"));

        RateLimitPolicy policy;
        policy.name = QStringLiteral("uploads");
        policy.limit = 1000;
        policy.window = 1h;
        auto custom = makeLimiter(clock, policy);
        QCOMPARE(custom->policyHeaderValue(), QByteArray(R"("uploads";q=1000;w=3600)"));
        QCOMPARE(custom->headerValue(custom->check(QStringLiteral("k"))),
                 QByteArray(R"("uploads";r=999;t=4)")); // 3.6 s rounds up

        const QJsonObject body = RateLimiter::tooManyRequestsBody();
        QCOMPARE(body.value(QStringLiteral("success")), QJsonValue(false));
        QCOMPARE(body.value(QStringLiteral("error")),
                 QJsonValue(QStringLiteral("Too many requests")));
        QCOMPARE(body.value(QStringLiteral("message")),
                 QJsonValue(QStringLiteral("Rate limit exceeded. Please try again later.")));
        QCOMPARE(body.value(QStringLiteral("code")), QJsonValue(QStringLiteral("rate_limited")));
        QCOMPARE(body.size(), 4);
        const QByteArray json = QJsonDocument(body).toJson(QJsonDocument::Compact);
        QVERIFY(json.contains(R"("success":false)"));
        QVERIFY(json.contains(R"("message":"Rate limit exceeded. Please try again later.")"));
    }

    void keysAreIndependent()
    {
        ManualClock clock;
        auto limiter = makeLimiter(clock);
        for (int i = 0; i < 50; ++i)
            QVERIFY(limiter->check(QStringLiteral("a")).allowed);
        QVERIFY(!limiter->check(QStringLiteral("a")).allowed);
        const RateLimitDecision other = limiter->check(QStringLiteral("b"));
        QVERIFY(other.allowed);
        QCOMPARE(other.remaining, 49);
        QVERIFY(!limiter->check(QStringLiteral("a")).allowed);
        QCOMPARE(limiter->trackedKeys(), 2);
    }

    void threadsHammeringOneKeyGetExactlyTheLimit()
    {
        ManualClock clock;
        auto limiter = makeLimiter(clock);
        std::atomic<int> allowed{0};
        std::atomic<int> otherAllowed{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 2000; ++i) {
                    if (limiter->check(QStringLiteral("shared")).allowed)
                        ++allowed;
                    // Other keys churn the structure at the same time.
                    if (limiter->check(QStringLiteral("own%1").arg(t)).allowed)
                        ++otherAllowed;
                }
            });
        }
        for (std::thread &thread : threads)
            thread.join();
        QCOMPARE(allowed.load(), 50);
        QCOMPARE(otherAllowed.load(), 8 * 50);
    }

    void memoryStaysAtTheCapUnderAFloodOfKeys()
    {
        ManualClock clock;
        RateLimitPolicy policy;
        policy.maxKeys = 100'000;
        const qint64 rssBefore = residentBytes();
        auto limiter = makeLimiter(clock, policy);

        // A client that is being limited, whose state the flood must not wash away.
        const QString abuser = QStringLiteral("v4:198.51.100.66");
        for (int i = 0; i < 50; ++i)
            QVERIFY(limiter->check(abuser).allowed);

        for (int i = 0; i < policy.maxKeys; ++i)
            QVERIFY(limiter->check(floodKey(i)).allowed);
        QCOMPARE(limiter->trackedKeys(), policy.maxKeys);
        const qint64 rssAtCap = residentBytes();

        for (int i = policy.maxKeys; i < 1'000'000; ++i) {
            QVERIFY(limiter->check(floodKey(i)).allowed); // every new client gets its quota
            if (i % 50'000 == 0) {
                QCOMPARE(limiter->trackedKeys(), policy.maxKeys);
                clock.advance(1); // time moves on during the flood
            }
        }
        QCOMPARE(limiter->trackedKeys(), policy.maxKeys);
        const qint64 rssAfter = residentBytes();
        qInfo("RSS before %lld KiB, at the cap %lld KiB, after 1,000,000 keys %lld KiB",
              rssBefore / 1024, rssAtCap / 1024, rssAfter / 1024);
        if (FERRY_RSS_MEANINGFUL && rssAtCap > 0) {
            // 900,000 more keys without eviction would take well over 100 MB.
            QVERIFY2(
                rssAfter - rssAtCap < 16 * 1024 * 1024,
                qPrintable(QStringLiteral("grew by %1 KiB").arg((rssAfter - rssAtCap) / 1024)));
        }
        QVERIFY(!limiter->check(abuser).allowed);
        // The most recent keys are still tracked: a second request sees one used.
        QCOMPARE(limiter->check(floodKey(999'999)).remaining, 48);
    }

    void evictsResetKeysFirstThenTheNearestToReset()
    {
        ManualClock clock;
        RateLimitPolicy policy;
        policy.limit = 2;
        policy.window = 10s; // one request back every 5 s
        policy.maxKeys = 2;
        auto limiter = makeLimiter(clock, policy);
        QVERIFY(limiter->check(QStringLiteral("a")).allowed); // back to full at +5 s
        QVERIFY(limiter->check(QStringLiteral("b")).allowed);
        QVERIFY(limiter->check(QStringLiteral("b")).allowed); // back to full at +10 s
        clock.advance(6000);
        QVERIFY(limiter->check(QStringLiteral("c")).allowed); // evicts a, already reset
        QCOMPARE(limiter->trackedKeys(), 2);
        QCOMPARE(limiter->check(QStringLiteral("b")).remaining, 0); // b's state survived
        // Neither b (full at +15 s) nor c (+11 s) is reset: d evicts c, the nearest to reset.
        QVERIFY(limiter->check(QStringLiteral("d")).allowed);
        QCOMPARE(limiter->trackedKeys(), 2);
        QVERIFY(!limiter->check(QStringLiteral("b")).allowed);
        QCOMPARE(limiter->check(QStringLiteral("c")).remaining, 1); // c starts afresh
    }

    void purgeForgetsOnlyResetKeys()
    {
        ManualClock clock;
        auto limiter = makeLimiter(clock);
        QVERIFY(limiter->check(QStringLiteral("short")).allowed);
        for (int i = 0; i < 10; ++i)
            QVERIFY(limiter->check(QStringLiteral("long")).allowed);
        QCOMPARE(limiter->purgeReset(clock.nowMs() + 17'999), 0);
        QCOMPARE(limiter->purgeReset(clock.nowMs() + 18'000), 1);
        QCOMPARE(limiter->trackedKeys(), 1);
        QCOMPARE(limiter->purgeReset(clock.nowMs() + 180'000), 1);
        QCOMPARE(limiter->trackedKeys(), 0);
    }

    void policyValidation_data()
    {
        QTest::addColumn<qint64>("limit");
        QTest::addColumn<qint64>("windowSeconds");
        QTest::addColumn<qint64>("maxKeys");
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("mentions"); // empty: valid
        const QString def = QStringLiteral("default");
        QTest::newRow("defaults") << qint64(50) << qint64(900) << qint64(100'000) << def
                                  << QString();
        QTest::newRow("one per second") << qint64(1) << qint64(1) << qint64(1) << def << QString();
        QTest::newRow("zero limit") << qint64(0) << qint64(900) << qint64(100'000) << def
                                    << QStringLiteral("rate limit 0 requests");
        QTest::newRow("negative limit") << qint64(-5) << qint64(900) << qint64(100'000) << def
                                        << QStringLiteral("rate limit -5 requests");
        QTest::newRow("huge limit") << qint64(2'000'000'000) << qint64(900) << qint64(100'000)
                                    << def << QStringLiteral("2000000000");
        QTest::newRow("zero window") << qint64(50) << qint64(0) << qint64(100'000) << def
                                     << QStringLiteral("window of 0 seconds");
        QTest::newRow("negative window") << qint64(50) << qint64(-1) << qint64(100'000) << def
                                         << QStringLiteral("window of -1 seconds");
        QTest::newRow("window over 31 days") << qint64(50) << qint64(32 * 86'400) << qint64(100'000)
                                             << def << QStringLiteral("window of 2764800");
        QTest::newRow("no keys") << qint64(50) << qint64(900) << qint64(0) << def
                                 << QStringLiteral("key capacity 0");
        QTest::newRow("empty name") << qint64(50) << qint64(900) << qint64(100'000) << QString()
                                    << QStringLiteral("policy name");
        QTest::newRow("quote in name") << qint64(50) << qint64(900) << qint64(100'000)
                                       << QStringLiteral("a\"b") << QStringLiteral("policy name");
    }
    void policyValidation()
    {
        QFETCH(qint64, limit);
        QFETCH(qint64, windowSeconds);
        QFETCH(qint64, maxKeys);
        QFETCH(QString, name);
        QFETCH(QString, mentions);
        RateLimitPolicy policy;
        policy.limit = limit;
        policy.window = std::chrono::seconds(windowSeconds);
        policy.maxKeys = maxKeys;
        policy.name = name;
        ManualClock clock;
        const auto limiter = RateLimiter::create(policy, clock);
        if (mentions.isEmpty()) {
            QVERIFY2(limiter.ok(), qPrintable(limiter.error().toString()));
            return;
        }
        QVERIFY(!limiter.ok());
        QCOMPARE(limiter.error().code, ErrorCode::Config);
        QVERIFY2(limiter.error().message.contains(mentions), qPrintable(limiter.error().message));
        QVERIFY(!limiter.error().hint.isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_RateLimiter)
#include "tst_ratelimiter.moc"
