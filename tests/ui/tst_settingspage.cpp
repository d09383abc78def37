#include "config/settingsservice.h"
#include "monitor/procprobe.h"
#include "monitor/resourcemonitor.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "ratelimit/ratelimiter.h"
#include "testsupport.h"
#include "ui/settings/settingspage.h"

#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

// The Settings page over a real store and the engine objects it changes live, wired as
// app/enginehost.cpp wires them.
class tst_SettingsPage : public QObject
{
    Q_OBJECT

private:
    struct Console
    {
        Console()
        {
            registerBuiltinHandlers(handlers);
            queue = std::make_unique<JobQueue>(*t.store, handlers, clock, QueueConfig{});
            dispatcher =
                std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("ui"));
            users = std::make_unique<UserDirectory>(*t.store, clock);
            quotas = std::make_unique<QuotaLedger>(*t.store, clock);
            auto created = RateLimiter::create(RateLimitPolicy{}, clock);
            limiter = std::move(*created);
            probe = std::make_unique<ProcProbe>(QDir::tempPath());
            monitor = std::make_unique<ResourceMonitor>(*probe, clock, MonitorSources{},
                                                        ResourceMonitor::Options{});
            settings = std::make_unique<SettingsService>(*t.store, config);
            QVERIFY(settings->load().ok());
            settings->setApplier(SettingsService::Group::RateLimit,
                                 [this](const FerryConfig &next) {
                                     RateLimitPolicy policy;
                                     policy.limit = next.rateLimit;
                                     policy.window = std::chrono::seconds(next.rateWindowSeconds);
                                     return limiter->setPolicy(policy);
                                 });
            settings->setApplier(
                SettingsService::Group::MemoryWatermarks, [this](const FerryConfig &next) {
                    return monitor->setWatermarks(next.memoryHighBytes, next.memoryLowBytes);
                });
            context = std::make_unique<ConsoleContext>(
                ConsoleContext{*t.store, *queue, dispatcher.get(), *users, *quotas, monitor.get(),
                               &config, QString(), &readers});
            context->settings = settings.get();
            page = std::make_unique<SettingsPage>(*context);
            page->show();
        }
        ~Console()
        {
            page.reset();
            readers.waitForDone();
        }
        QLineEdit *field(const char *key)
        {
            return page->findChild<QLineEdit *>(QStringLiteral("setting_") + QLatin1String(key));
        }
        QString note(const char *key)
        {
            return page->findChild<QLabel *>(QStringLiteral("note_") + QLatin1String(key))->text();
        }
        QString message()
        {
            return page->findChild<QLabel *>(QStringLiteral("settingsMessage"))->text();
        }
        bool save()
        {
            QSignalSpy saved(page.get(), &SettingsPage::saved);
            page->findChild<QPushButton *>(QStringLiteral("saveSettings"))->click();
            return saved.wait(10'000);
        }
        std::optional<QString> stored(const QString &key)
        {
            auto value = t.store->setting(SettingsService::storeKey(key));
            return value ? *value : std::nullopt;
        }

        TempStore t;
        SystemClock clock;
        FerryConfig config;
        HandlerRegistry handlers;
        QThreadPool readers;
        std::unique_ptr<JobQueue> queue;
        std::unique_ptr<Dispatcher> dispatcher;
        std::unique_ptr<UserDirectory> users;
        std::unique_ptr<QuotaLedger> quotas;
        std::unique_ptr<RateLimiter> limiter;
        std::unique_ptr<ProcProbe> probe;
        std::unique_ptr<ResourceMonitor> monitor;
        std::unique_ptr<SettingsService> settings;
        std::unique_ptr<ConsoleContext> context;
        std::unique_ptr<SettingsPage> page;
    };

private Q_SLOTS:
    void showsValuesAndWhereTheyComeFrom()
    {
        Console c;
        QCOMPARE(c.field("rate_limit")->text(), QStringLiteral("50"));
        QCOMPARE(c.field("rate_window_seconds")->text(), QStringLiteral("900"));
        QCOMPARE(c.field("memory_high")->text(), QStringLiteral("500M"));
        QCOMPARE(c.field("listen_address")->text(), QStringLiteral("127.0.0.1:8080"));
        QVERIFY(c.note("rate_limit").contains(u"From the configuration"));
        QVERIFY(c.note("rate_limit").contains(u"applies at once"));
        QVERIFY(c.note("listen_address").contains(u"after a restart"));
        QVERIFY(c.note("trusted_proxies").contains(u"after a restart")); // no applier here
    }

    void changeRateLimit()
    {
        Console c;
        c.field("rate_limit")->setText(QStringLiteral("7"));
        c.field("rate_window_seconds")->setText(QStringLiteral("60"));
        QVERIFY(c.save());
        QCOMPARE(c.limiter->policy().limit, 7);
        QCOMPARE(c.limiter->policy().window.count(), 60);
        QCOMPARE(c.stored(QStringLiteral("rate_limit")), std::optional(QStringLiteral("7")));
        QCOMPARE(c.stored(QStringLiteral("rate_window_seconds")),
                 std::optional(QStringLiteral("60")));
        QVERIFY(c.message().contains(u"Saved and applied"));
        QVERIFY(c.note("rate_limit").contains(u"Saved in the console (configured: 50)"));
        // The limiter enforces it: 7 requests pass, the 8th does not.
        for (int i = 0; i < 7; ++i)
            QVERIFY(c.limiter->check(QStringLiteral("v4:10.0.0.1")).allowed);
        QVERIFY(!c.limiter->check(QStringLiteral("v4:10.0.0.1")).allowed);
    }

    void invalidValuesAreRefused_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("says");
        const auto row = [](const char *name, const char *key, const char *value,
                            const char *says) {
            QTest::newRow(name) << QString::fromLatin1(key) << QString::fromLatin1(value)
                                << QString::fromLatin1(says);
        };
        row("negative rate", "rate_limit", "-3", "Rate limit");
        row("text rate", "rate_limit", "many", "Rate limit");
        row("zero window", "rate_window_seconds", "0", "window");
        row("bad proxy", "trusted_proxies", "10.0.0.0/99", "Trusted proxies");
        row("bad listen", "listen_address", "localhost", "Listen address");
        row("low above high", "memory_low", "600M", "low-water mark");
        row("negative memory", "memory_high", "-1", "high-water");
        row("zero attempts", "job_max_attempts", "0", "attempts");
    }
    void invalidValuesAreRefused()
    {
        QFETCH(QString, key);
        QFETCH(QString, value);
        QFETCH(QString, says);
        Console c;
        QSignalSpy messages(c.page.get(), &SettingsPage::messageShown);
        c.field(qPrintable(key))->setText(value);
        c.field("job_timeout_seconds")->setText(QStringLiteral("30")); // valid, not saved either
        c.page->findChild<QPushButton *>(QStringLiteral("saveSettings"))->click();
        QCOMPARE(messages.count(), 1); // refused at once, on the GUI thread
        QVERIFY(messages.at(0).at(1).toBool());
        QVERIFY2(c.message().contains(says, Qt::CaseInsensitive), qPrintable(c.message()));
        QVERIFY(c.message().startsWith(u"Not saved."));
        c.readers.waitForDone();
        QCOMPARE(c.stored(key), std::nullopt);
        QCOMPARE(c.stored(QStringLiteral("job_timeout_seconds")), std::nullopt);
        QCOMPARE(c.limiter->policy().limit, 50);
    }

    void watermarksReachTheGovernor()
    {
        Console c;
        c.field("memory_high")->setText(QStringLiteral("900M"));
        c.field("memory_low")->setText(QStringLiteral("600M"));
        QVERIFY(c.save());
        QCOMPARE(c.monitor->governorConfig().highWaterBytes, qint64(900) << 20);
        QCOMPARE(c.monitor->governorConfig().lowWaterBytes, qint64(600) << 20);
        QCOMPARE(c.stored(QStringLiteral("memory_high")), std::optional(QStringLiteral("900M")));
    }

    void listenAddressAppliesAfterRestart()
    {
        Console c;
        c.field("listen_address")->setText(QStringLiteral("0.0.0.0:9090"));
        QVERIFY(c.save());
        QVERIFY(c.message().contains(u"after Ferry restarts"));
        QCOMPARE(c.stored(QStringLiteral("listen_address")),
                 std::optional(QStringLiteral("0.0.0.0:9090")));
        // The next start reads it back.
        SettingsService next(*c.t.store, c.config);
        QVERIFY(next.load().ok());
        QCOMPARE(next.effective().listenHost, QStringLiteral("0.0.0.0"));
        QCOMPARE(next.effective().listenPort, quint16(9090));
    }

    void revertToConfiguredValues()
    {
        Console c;
        c.field("rate_limit")->setText(QStringLiteral("7"));
        QVERIFY(c.save());
        QCOMPARE(c.limiter->policy().limit, 7);
        QSignalSpy saved(c.page.get(), &SettingsPage::saved);
        c.page->findChild<QPushButton *>(QStringLiteral("revertSettings"))->click();
        QVERIFY2(saved.wait(10'000), qPrintable(c.message()));
        QCOMPARE(c.limiter->policy().limit, 50);
        QCOMPARE(c.field("rate_limit")->text(), QStringLiteral("50"));
        QVERIFY(c.note("rate_limit").contains(u"From the configuration"));
        QCOMPARE(c.stored(QStringLiteral("rate_limit")), std::optional(QString()));
    }
};

QTEST_MAIN(tst_SettingsPage)
#include "tst_settingspage.moc"
