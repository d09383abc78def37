// The cluster-wide rate limit on PostgreSQL (SharedRateLimit over PostgresRateLimit, migrations
// 0010-0011): limiters with their own backends (their own connection pools, as nodes have) on one
// fresh database of the "ferry_pg" fixture's server share one limit per key within the stated
// overshoot (nodes x credit at an instant, docs/architecture.md) with far fewer database round
// trips than requests; one node's sequential answers equal the in-memory limiter's; a refused
// request does not move the state; a policy change starts every client over; housekeeping
// forgets fully reset keys; and an unreachable database falls back to the node's own limit.
#include "core/clock.h"
#include "pgtestsupport.h"
#include "ratelimit/ratelimiter.h"
#include "store/databaseconfig.h"
#include "store/postgresratelimit.h"
#include "store/postgresstore.h"

#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTest>

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

using namespace Ferry;
using namespace std::chrono_literals;

namespace {

constexpr qint64 Start = 1'700'000'000'000;

std::unique_ptr<RateLimiter> makeLimiter(const Clock &clock, qint64 limit, qint64 windowSeconds)
{
    RateLimitPolicy policy;
    policy.limit = limit;
    policy.window = std::chrono::seconds(windowSeconds);
    auto limiter = RateLimiter::create(policy, clock);
    if (!limiter)
        qFatal("%s", qPrintable(limiter.error().toString()));
    return std::move(limiter).value();
}

QString describe(const RateLimitDecision &d)
{
    return QStringLiteral("allowed=%1 remaining=%2 reset=%3 retryAfter=%4")
        .arg(d.allowed)
        .arg(d.remaining)
        .arg(d.resetSeconds)
        .arg(d.retryAfterSeconds);
}

} // namespace

class tst_SharedRateLimit : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void twoNodesShareOneLimit();
    void answersEqualTheInMemoryLimiter_data();
    void answersEqualTheInMemoryLimiter();
    void refusedRequestsDoNotMoveTheState();
    void threeNodesHammeringStayWithinTheStatedOvershoot();
    void policyChangeStartsEveryClientOver();
    void purgeForgetsFullyResetKeys();
    void unreachableDatabaseFallsBackToTheLocalLimit();
    void sharesAheadFollowTheClientsRate();

private:
    std::shared_ptr<PostgresRateLimit> backend() const
    {
        return std::make_shared<PostgresRateLimit>(m_config);
    }
    qint64 rowCount() const;

    DatabaseConfig m_config;
    std::unique_ptr<PostgresStore> m_store; // migrated the database
    ManualClock m_clock{Start};
};

void tst_SharedRateLimit::init()
{
    if (Test::postgresTestUrl().isEmpty())
        QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
    QString error;
    const QString url = Test::createPostgresTestDatabase(QStringLiteral("ratelimit"), &error);
    QVERIFY2(!url.isEmpty(), qPrintable(error));
    auto config = DatabaseConfig::fromUrl(url);
    QVERIFY(config.ok());
    m_config = *config;
    auto store = PostgresStore::open(m_config);
    QVERIFY2(store.ok(), store ? "" : qPrintable(store.error().toString()));
    m_store = std::move(*store);
    m_clock.set(Start);
}

void tst_SharedRateLimit::cleanup()
{
    m_store.reset();
}

qint64 tst_SharedRateLimit::rowCount() const
{
    auto db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("count"));
    qint64 count = -1;
    {
        db.setHostName(m_config.host);
        db.setPort(m_config.port);
        db.setUserName(m_config.user);
        db.setPassword(m_config.password);
        db.setDatabaseName(m_config.database);
        if (db.open()) {
            QSqlQuery q(db);
            if (q.exec(QStringLiteral("SELECT count(*) FROM rate_limits")) && q.next())
                count = q.value(0).toLongLong();
        }
        db.close();
    }
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase(QStringLiteral("count"));
    return count;
}

void tst_SharedRateLimit::twoNodesShareOneLimit()
{
    auto nodeA = makeLimiter(m_clock, 5, 60);
    auto nodeB = makeLimiter(m_clock, 5, 60);
    nodeA->setSharedBackend(backend());
    nodeB->setSharedBackend(backend());
    const qint64 credit = SharedShareSizes::forLimit(5).credit;
    const QString key = QStringLiteral("v4:192.0.2.1");
    int passed = 0;
    for (int i = 0; i < 10; ++i) {
        RateLimiter &node = i % 2 ? *nodeB : *nodeA;
        RateLimitDecision d = node.check(key);
        node.waitForSharedRefills(); // a client that waits for its answers
        if (d.allowed)
            ++passed;
        else
            QVERIFY2(d.retryAfterSeconds >= 1, qPrintable(describe(d)));
    }
    // Not 5 per node: 5, and at most `credit` more per node (what a node let through before
    // its refill said the quota was spent).
    QVERIFY2(passed >= 5 && passed <= 5 + 2 * credit, qPrintable(QString::number(passed)));
    QVERIFY(nodeA->usingSharedBackend());
    QVERIFY(nodeB->usingSharedBackend());
    // Another client has its own quota.
    QVERIFY(nodeB->check(QStringLiteral("v4:192.0.2.2")).allowed);
    nodeB->waitForSharedRefills();
    // Nothing more for the first one until a token is due, on either node.
    QVERIFY(!nodeA->check(key).allowed);
    QVERIFY(!nodeB->check(key).allowed);
}

void tst_SharedRateLimit::answersEqualTheInMemoryLimiter_data()
{
    QTest::addColumn<qint64>("limit");
    QTest::addColumn<qint64>("windowSeconds");
    QTest::addColumn<qint64>("stepMs");
    QTest::newRow("50 per 900 s, a request a second") << qint64(50) << qint64(900) << qint64(1000);
    // window/limit = 142.857... ms: the fractional interval must neither let 8 through nor 6.
    QTest::newRow("7 per second, every 30 ms") << qint64(7) << qint64(1) << qint64(30);
    QTest::newRow("3 per 10 s, every 700 ms") << qint64(3) << qint64(10) << qint64(700);
    QTest::newRow("1 per second, every 400 ms") << qint64(1) << qint64(1) << qint64(400);
    // ms x limit passes 2^63 here: the TAT must still be exact.
    QTest::newRow("a billion per day, bursts")
        << qint64(1'000'000'000) << qint64(86'400) << qint64(0);
}

void tst_SharedRateLimit::answersEqualTheInMemoryLimiter()
{
    QFETCH(qint64, limit);
    QFETCH(qint64, windowSeconds);
    QFETCH(qint64, stepMs);
    auto local = makeLimiter(m_clock, limit, windowSeconds);
    auto shared = makeLimiter(m_clock, limit, windowSeconds);
    shared->setSharedBackend(backend());
    const QString key = QStringLiteral("v6:2001:db8:aa00::/56");
    // One node and a client that waits for each answer: the shared limit lets through exactly
    // what the in-memory one does (the remaining count is the node's estimate, not compared).
    for (int i = 0; i < 120; ++i) {
        const RateLimitDecision expected = local->check(key);
        const RateLimitDecision actual = shared->check(key);
        shared->waitForSharedRefills();
        QVERIFY2(actual.allowed == expected.allowed &&
                     actual.retryAfterSeconds == expected.retryAfterSeconds,
                 qPrintable(QStringLiteral("request %1 at +%2 ms: shared %3, in memory %4")
                                .arg(i)
                                .arg(m_clock.nowMs() - Start)
                                .arg(describe(actual), describe(expected))));
        m_clock.advance(stepMs);
    }
    QVERIFY(shared->usingSharedBackend());
}

void tst_SharedRateLimit::refusedRequestsDoNotMoveTheState()
{
    auto limiter = makeLimiter(m_clock, 2, 10); // one request per 5 s
    limiter->setSharedBackend(backend());
    const QString key = QStringLiteral("v4:198.51.100.7");
    QVERIFY(limiter->check(key).allowed);
    limiter->waitForSharedRefills();
    QVERIFY(limiter->check(key).allowed);
    limiter->waitForSharedRefills();
    for (int i = 0; i < 20; ++i) {
        const RateLimitDecision refused = limiter->check(key);
        limiter->waitForSharedRefills();
        QVERIFY(!refused.allowed);
        QCOMPARE(refused.retryAfterSeconds, 5);
        QCOMPARE(refused.resetSeconds, 10);
    }
    m_clock.advance(5'000); // exactly one interval later, despite the hammering
    const RateLimitDecision next = limiter->check(key);
    QVERIFY2(next.allowed, qPrintable(describe(next)));
    limiter->waitForSharedRefills();
    QVERIFY(!limiter->check(key).allowed);
}

// The bound of docs/architecture.md ("Rate limit"): three nodes hammered at one instant by one
// client pass at most limit + nodes x credit, and ask the database a small fraction of the
// requests (the limit used to cost a round trip per request).
void tst_SharedRateLimit::threeNodesHammeringStayWithinTheStatedOvershoot()
{
    constexpr qint64 Limit = 50;
    constexpr int Nodes = 3;
    constexpr int Threads = 6;
    constexpr int PerThread = 2000;
    const SharedShareSizes sizes = SharedShareSizes::forLimit(Limit);
    std::vector<std::unique_ptr<RateLimiter>> nodes;
    std::vector<std::shared_ptr<PostgresRateLimit>> backends;
    for (int n = 0; n < Nodes; ++n) {
        nodes.push_back(makeLimiter(m_clock, Limit, 900));
        backends.push_back(backend());
        nodes.back()->setSharedBackend(backends.back());
    }
    const QString key = QStringLiteral("v4:203.0.113.9");
    std::atomic<int> passed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([&, t] {
            RateLimiter &limiter = *nodes[size_t(t % Nodes)];
            for (int i = 0; i < PerThread; ++i) {
                if (limiter.check(key).allowed)
                    passed.fetch_add(1);
                std::this_thread::sleep_for(100us);
            }
        });
    }
    for (std::thread &thread : threads)
        thread.join();
    // Then each node until it refuses twice in a row (a client that waits for its answers): every
    // request's worth the database handed out is spent by then.
    int drained = 0;
    for (auto &node : nodes) {
        for (int refusals = 0; refusals < 2;) {
            node->waitForSharedRefills();
            if (node->check(key).allowed) {
                ++drained;
                refusals = 0;
            } else {
                ++refusals;
            }
        }
        node->waitForSharedRefills();
    }
    qint64 roundTrips = 0;
    for (auto &b : backends)
        roundTrips += b->roundTrips();
    const int requests = Threads * PerThread;
    const int total = passed.load() + drained;
    qInfo("%d requests, %d passed, then %d more (limit %lld, bound %lld), %lld round trips",
          requests, passed.load(), drained, Limit, Limit + Nodes * sizes.credit, roundTrips);
    QVERIFY2(total <= Limit + Nodes * sizes.credit, qPrintable(QString::number(total)));
    QVERIFY2(total >= Limit, qPrintable(QString::number(total)));
    QVERIFY2(roundTrips <= requests / 20, qPrintable(QString::number(roundTrips)));
    // Still spent for a while: a further burst passes nothing and costs no round trip.
    for (auto &node : nodes)
        QVERIFY(!node->check(key).allowed);
    for (auto &node : nodes)
        node->waitForSharedRefills();
    qint64 after = 0;
    for (auto &b : backends)
        after += b->roundTrips();
    QCOMPARE(after, roundTrips);
    for (auto &node : nodes)
        QVERIFY(node->usingSharedBackend());
}

void tst_SharedRateLimit::policyChangeStartsEveryClientOver()
{
    auto limiter = makeLimiter(m_clock, 2, 60);
    limiter->setSharedBackend(backend());
    const QString key = QStringLiteral("v4:192.0.2.50");
    auto check = [&] {
        const bool allowed = limiter->check(key).allowed;
        limiter->waitForSharedRefills();
        return allowed;
    };
    QVERIFY(check());
    QVERIFY(check());
    QVERIFY(!check());
    RateLimitPolicy next = limiter->policy();
    next.limit = 3;
    QVERIFY(limiter->setPolicy(next).ok());
    for (int i = 0; i < 3; ++i)
        QVERIFY(check());
    QVERIFY(!check());
}

void tst_SharedRateLimit::purgeForgetsFullyResetKeys()
{
    auto shared = backend();
    auto limiter = makeLimiter(m_clock, 4, 60); // 15 s per request
    limiter->setSharedBackend(shared);
    QVERIFY(limiter->check(QStringLiteral("v4:192.0.2.1")).allowed); // reset at +15 s
    limiter->waitForSharedRefills();
    m_clock.advance(10'000);
    QVERIFY(limiter->check(QStringLiteral("v4:192.0.2.2")).allowed); // at +25 s
    limiter->waitForSharedRefills();
    QVERIFY(limiter->check(QStringLiteral("v4:192.0.2.2")).allowed); // at +40 s
    limiter->waitForSharedRefills();
    QCOMPARE(rowCount(), 2);
    auto purged = shared->purgeReset(Start + 14'999);
    QVERIFY(purged.ok());
    QCOMPARE(*purged, 0);
    purged = shared->purgeReset(Start + 15'000);
    QVERIFY(purged.ok());
    QCOMPARE(*purged, 1);
    QCOMPARE(rowCount(), 1);
    purged = shared->purgeReset(Start + 40'000);
    QVERIFY(purged.ok());
    QCOMPARE(*purged, 1);
    QCOMPARE(rowCount(), 0);
}

void tst_SharedRateLimit::unreachableDatabaseFallsBackToTheLocalLimit()
{
    // A port nothing answers on: a listening socket closed again.
    quint16 port = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        port = probe.serverPort();
    }
    DatabaseConfig down = m_config;
    down.host = QStringLiteral("127.0.0.1");
    down.port = port;
    auto limiter = makeLimiter(m_clock, 3, 60);
    limiter->setSharedBackend(std::make_shared<PostgresRateLimit>(down));
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("shared rate limit is unavailable")));
    const QString key = QStringLiteral("v4:192.0.2.77");
    // The first request passes on credit; its refill fails, and from then on the node limits
    // on its own: three pass, the fourth is refused.
    QVERIFY(limiter->check(key).allowed);
    limiter->waitForSharedRefills();
    QVERIFY(!limiter->usingSharedBackend());
    for (int i = 0; i < 3; ++i)
        QVERIFY(limiter->check(key).allowed);
    QVERIFY(!limiter->check(key).allowed);
}

// What a refill takes ahead. Up to a limit of 25,000 per window: `batch` for any busy client,
// as before. Above it, twice the requests the client passed since the last refill (its rate over
// one round trip, with room for a round trip twice as slow), from `batch` up to limit/25: a
// client at 60,000 requests/s under a limit of 10^9 had 1,000 tokens (16 ms), less than a round
// trip on a loaded machine, and was refused under its limit (docs/benchmarks.md).
void tst_SharedRateLimit::sharesAheadFollowTheClientsRate()
{
    const SharedShareSizes small = SharedShareSizes::forLimit(50);
    QCOMPARE(small.batch, qint64(2));
    QCOMPARE(small.aheadFor(1), qint64(0)); // a slow client takes nothing ahead
    QCOMPARE(small.aheadFor(2), qint64(2));
    QCOMPARE(small.aheadFor(100'000), qint64(2));
    const SharedShareSizes medium = SharedShareSizes::forLimit(25'000);
    QCOMPARE(medium.batch, qint64(1000));
    QCOMPARE(medium.aheadFor(3), qint64(1000));
    QCOMPARE(medium.aheadFor(5'000), qint64(1000)); // unchanged up to 25,000
    const SharedShareSizes high = SharedShareSizes::forLimit(1'000'000'000);
    QCOMPARE(high.batch, qint64(1000));
    QCOMPARE(high.credit, qint64(1000));
    QCOMPARE(high.aheadFor(1), qint64(0));
    QCOMPARE(high.aheadFor(10), qint64(1000));
    QCOMPARE(high.aheadFor(1'800), qint64(3'600));
    QCOMPARE(high.aheadFor(std::numeric_limits<qint64>::max()), qint64(40'000'000)); // limit/25
    const SharedShareSizes between = SharedShareSizes::forLimit(100'000);
    QCOMPARE(between.aheadFor(3'000), qint64(4'000)); // limit/25
}

QTEST_GUILESS_MAIN(tst_SharedRateLimit)
#include "tst_sharedratelimit.moc"
