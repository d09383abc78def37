#include "config/settingsfollower.h"
#include "config/settingsservice.h"
#include "queue/builtinhandlers.h"
#include "queue/jobqueue.h"
#include "ratelimit/ratelimiter.h"
#include "testsupport.h"

#include <QSemaphore>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

// SettingsService over a real SQLite store: validation before any write, overrides persisted and
// read back at the next start, appliers called for what changed (and only that).
class tst_SettingsService : public QObject
{
    Q_OBJECT

private:
    static std::optional<QString> stored(Store &store, const QString &key)
    {
        auto value = store.setting(SettingsService::storeKey(key));
        return value ? *value : std::nullopt;
    }

private Q_SLOTS:
    void valuesRoundTrip_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("normalised");
        const auto row = [](const char *key, const char *text, const char *normalised) {
            QTest::newRow(key) << QString::fromLatin1(key) << QString::fromLatin1(text)
                               << QString::fromLatin1(normalised);
        };
        row("listen_address", " [::1]:0 ", "[::1]:0");
        row("rate_limit", "7", "7");
        row("rate_window_seconds", "60", "60");
        row("trusted_proxies", "10.0.0.0/8, ::1", "10.0.0.0/8, ::1");
        row("memory_high", "1048576000", "1000M");
        row("memory_low", "1024k", "1M");
        row("job_timeout_seconds", "0", "0");
        row("job_max_attempts", "100", "100");
    }
    void valuesRoundTrip()
    {
        QFETCH(QString, key);
        QFETCH(QString, text);
        QFETCH(QString, normalised);
        FerryConfig config;
        QVERIFY(SettingsService::setText(config, key, text).ok());
        QCOMPARE(SettingsService::textOf(config, key), normalised);
    }

    void defaultsComeFromTheConfiguration()
    {
        TempStore t;
        FerryConfig config;
        config.rateLimit = 80;
        SettingsService settings(*t.store, config);
        QVERIFY(settings.load().ok());
        QCOMPARE(settings.effective().rateLimit, 80);
        for (const auto &setting : settings.settings()) {
            QCOMPARE(setting.source, SettingsService::Source::Configuration);
            QCOMPARE(setting.value, setting.configured);
            QVERIFY(!setting.live); // no appliers registered
        }
    }

    void nothingIsWrittenUnlessEverythingIsValid()
    {
        TempStore t;
        SettingsService settings(*t.store, FerryConfig{});
        QVERIFY(settings.load().ok());
        int applied = 0;
        settings.setApplier(SettingsService::Group::RateLimit, [&](const FerryConfig &) {
            ++applied;
            return Result<void>();
        });
        auto saved = settings.save({{QStringLiteral("rate_limit"), QStringLiteral("7")},
                                    {QStringLiteral("memory_low"), QStringLiteral("-1")}});
        QVERIFY(!saved.ok());
        QCOMPARE(saved.error().code, ErrorCode::InvalidArgument);
        QVERIFY(saved.error().message.contains(u"Memory low-water mark"));
        // Each value parses, but together they do not fit.
        saved = settings.save({{QStringLiteral("memory_high"), QStringLiteral("100M")},
                               {QStringLiteral("memory_low"), QStringLiteral("200M")}});
        QVERIFY(!saved.ok());
        saved = settings.save({{QStringLiteral("no_such_setting"), QStringLiteral("1")}});
        QVERIFY(!saved.ok());
        QCOMPARE(stored(*t.store, QStringLiteral("rate_limit")), std::nullopt);
        QCOMPARE(stored(*t.store, QStringLiteral("memory_high")), std::nullopt);
        QCOMPARE(applied, 0);
        QCOMPARE(settings.effective().rateLimit, 50);
    }

    void savedValuesApplyLiveAndSurviveARestart()
    {
        TempStore t;
        FerryConfig config;
        SystemClock clock;
        auto created = RateLimiter::create(RateLimitPolicy{}, clock);
        auto limiter = std::move(*created);
        {
            SettingsService settings(*t.store, config);
            QVERIFY(settings.load().ok());
            int applied = 0;
            settings.setApplier(SettingsService::Group::RateLimit, [&](const FerryConfig &next) {
                ++applied;
                RateLimitPolicy policy;
                policy.limit = next.rateLimit;
                policy.window = std::chrono::seconds(next.rateWindowSeconds);
                return limiter->setPolicy(policy);
            });
            auto saved =
                settings.save({{QStringLiteral("rate_limit"), QStringLiteral("7")},
                               {QStringLiteral("rate_window_seconds"), QStringLiteral("60")},
                               {QStringLiteral("job_max_attempts"), QStringLiteral("5")},
                               {QStringLiteral("listen_address"), QStringLiteral("0.0.0.0:9000")}});
            QVERIFY2(saved.ok(), qPrintable(saved ? QString() : saved.error().toString()));
            QCOMPARE(applied, 1); // once for the group
            QCOMPARE(limiter->policy().limit, 7);
            QCOMPARE(limiter->policy().window.count(), 60);
            QCOMPARE(saved->appliedLive, QStringList({QStringLiteral("rate_limit"),
                                                      QStringLiteral("rate_window_seconds")}));
            // job_max_attempts was unchanged (5 is the default): nothing saved for it.
            QCOMPARE(saved->afterRestart, QStringList{QStringLiteral("listen_address")});
            QCOMPARE(stored(*t.store, QStringLiteral("job_max_attempts")), std::nullopt);

            // Saving the same values again changes nothing and applies nothing.
            saved = settings.save({{QStringLiteral("rate_limit"), QStringLiteral("7")}});
            QVERIFY(saved.ok());
            QVERIFY(saved->changed.isEmpty());
            QCOMPARE(applied, 1);
        }
        // The next start: the console's values override the configuration.
        SettingsService next(*t.store, config);
        QVERIFY(next.load().ok());
        QCOMPARE(next.effective().rateLimit, 7);
        QCOMPARE(next.effective().listenHost, QStringLiteral("0.0.0.0"));
        QCOMPARE(next.effective().listenPort, quint16(9000));
        for (const auto &setting : next.settings()) {
            const bool overridden = setting.key == u"rate_limit" ||
                                    setting.key == u"rate_window_seconds" ||
                                    setting.key == u"listen_address";
            QCOMPARE(setting.source, overridden ? SettingsService::Source::Console
                                                : SettingsService::Source::Configuration);
        }

        // Reverting drops the override: the configured value is back, now and at the next start.
        auto reverted = next.revert({QStringLiteral("rate_limit")});
        QVERIFY(reverted.ok());
        QCOMPARE(reverted->changed, QStringList{QStringLiteral("rate_limit")});
        QCOMPARE(next.effective().rateLimit, 50);
        SettingsService third(*t.store, config);
        QVERIFY(third.load().ok());
        QCOMPARE(third.effective().rateLimit, 50);
        QCOMPARE(third.effective().rateWindowSeconds, 60);
    }

    // Two nodes on one store: what one saves, the other's reload() reads and applies live (its
    // applier runs once per changed group), and a reload that finds nothing new applies nothing.
    void reloadAppliesWhatAnotherNodeSaved()
    {
        TempStore t;
        FerryConfig config;
        SettingsService saver(*t.store, config);
        SettingsService follower(*t.store, config);
        QVERIFY(saver.load().ok());
        QVERIFY(follower.load().ok());
        QList<int> applied;
        follower.setApplier(SettingsService::Group::RateLimit,
                            [&](const FerryConfig &next) -> Result<void> {
                                applied.append(next.rateLimit);
                                return {};
                            });
        int jobDefaultsApplied = 0;
        follower.setApplier(SettingsService::Group::JobDefaults,
                            [&](const FerryConfig &) -> Result<void> {
                                ++jobDefaultsApplied;
                                return {};
                            });

        auto nothing = follower.reload();
        QVERIFY(nothing.ok());
        QVERIFY(nothing->isEmpty());
        QVERIFY(applied.isEmpty());

        QVERIFY(saver
                    .save({{QStringLiteral("rate_limit"), QStringLiteral("9")},
                           {QStringLiteral("listen_address"), QStringLiteral("0.0.0.0:9100")}})
                    .ok());
        auto changed = follower.reload();
        QVERIFY(changed.ok());
        QCOMPARE(*changed,
                 QStringList({QStringLiteral("listen_address"), QStringLiteral("rate_limit")}));
        QCOMPARE(applied, QList<int>{9});
        QCOMPARE(jobDefaultsApplied, 0);
        QCOMPARE(follower.effective().rateLimit, 9);
        // A restart-only setting shows as in force from the next start, as on the saving node.
        QCOMPARE(follower.effective().listenPort, quint16(9100));
        for (const auto &setting : follower.settings()) {
            if (setting.key == u"rate_limit")
                QCOMPARE(setting.source, SettingsService::Source::Console);
        }

        // A revert on the saving node is a change too: the configured value comes back.
        QVERIFY(saver.revert({QStringLiteral("rate_limit")}).ok());
        changed = follower.reload();
        QVERIFY(changed.ok());
        QCOMPARE(*changed, QStringList{QStringLiteral("rate_limit")});
        QCOMPARE(applied, QList<int>({9, 50}));
        QVERIFY(follower.reload()->isEmpty());
        QCOMPARE(applied.size(), 2);
    }

    // The follower reloads on request, off the caller's thread, and a burst of requests that
    // arrives while a reload runs costs one more read, never one per request.
    void followerFoldsABurstOfRequests()
    {
        TempStore t;
        SettingsService saver(*t.store, FerryConfig{});
        SettingsService follower(*t.store, FerryConfig{});
        QVERIFY(saver.load().ok());
        QVERIFY(follower.load().ok());
        std::atomic<int> limit = 0;
        QSemaphore applying; // the first reload's applier waits here while the burst arrives
        QSemaphore release;
        follower.setApplier(SettingsService::Group::RateLimit,
                            [&](const FerryConfig &next) -> Result<void> {
                                applying.release();
                                release.tryAcquire(1, 30'000);
                                limit = next.rateLimit;
                                return {};
                            });
        SettingsFollower following(follower, 3'600'000); // no poll within the test
        QVERIFY(saver.save({{QStringLiteral("rate_limit"), QStringLiteral("11")}}).ok());
        following.requestReload();
        QVERIFY(applying.tryAcquire(1, 30'000)); // the reload runs, on the follower's thread
        for (int i = 0; i < 1000; ++i)
            following.requestReload();
        release.release(2);
        QVERIFY(waitFor([&] { return following.reloads() == 2; }));
        QCOMPARE(limit.load(), 11);
        QCOMPARE(following.changes(), 1); // the second read found nothing new
        // A later request reads again: a second save is applied too.
        QVERIFY(saver.save({{QStringLiteral("rate_limit"), QStringLiteral("12")}}).ok());
        following.requestReload();
        QVERIFY(waitFor([&] { return limit.load() == 12 && following.reloads() == 3; }));
    }

    void aBrokenOverrideIsIgnored()
    {
        TempStore t;
        QVERIFY(t.store
                    ->setSetting(SettingsService::storeKey(QStringLiteral("rate_limit")),
                                 QStringLiteral("lots"))
                    .ok());
        QVERIFY(t.store
                    ->setSetting(SettingsService::storeKey(QStringLiteral("job_max_attempts")),
                                 QStringLiteral("3"))
                    .ok());
        SettingsService settings(*t.store, FerryConfig{});
        QVERIFY(settings.load().ok());
        QCOMPARE(settings.effective().rateLimit, 50);
        QCOMPARE(settings.effective().queue.defaultMaxAttempts, 3);
    }

    void rateLimiterTakesANewPolicy()
    {
        SystemClock clock;
        RateLimitPolicy policy;
        policy.limit = 2;
        policy.window = std::chrono::seconds(60);
        auto created = RateLimiter::create(policy, clock);
        auto limiter = std::move(*created);
        const QString key = QStringLiteral("v4:10.0.0.1");
        QVERIFY(limiter->check(key, 1000).allowed);
        QVERIFY(limiter->check(key, 1000).allowed);
        QVERIFY(!limiter->check(key, 1000).allowed);
        policy.limit = 3;
        QVERIFY(limiter->setPolicy(policy).ok());
        QCOMPARE(limiter->policyHeaderValue(), QByteArray("\"default\";q=3;w=60"));
        for (int i = 0; i < 3; ++i) // everyone starts over under the new policy
            QVERIFY(limiter->check(key, 1000).allowed);
        QVERIFY(!limiter->check(key, 1000).allowed);
        policy.limit = 0;
        QVERIFY(!limiter->setPolicy(policy).ok());
        QCOMPARE(limiter->policy().limit, 3);
    }

    void jobDefaultsApplyToTheNextEnqueue()
    {
        TempStore t;
        HandlerRegistry handlers;
        registerBuiltinHandlers(handlers);
        JobQueue queue(*t.store, handlers, t.clock, QueueConfig{});
        QVERIFY(!queue.setJobDefaults(-1, 3).ok());
        QVERIFY(!queue.setJobDefaults(1000, 0).ok());
        QVERIFY(queue.setJobDefaults(42'000, 2).ok());
        QCOMPARE(queue.defaultTimeoutMs(), 42'000);
        QCOMPARE(queue.defaultMaxAttempts(), 2);
    }
};

QTEST_MAIN(tst_SettingsService)
#include "tst_settingsservice.moc"
