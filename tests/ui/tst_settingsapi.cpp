#include "../api/apitestsupport.h"
#include "config/settingsservice.h"
#include "queue/dispatcher.h"
#include "ui/settings/settingspage.h"

#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

// What the Settings page changes live, seen by a real HTTP client: the rate limit and the
// trusted proxies, with the appliers wired as app/enginehost.cpp wires them.
class tst_SettingsApi : public QObject
{
    Q_OBJECT

private:
    struct Console
    {
        Console() : api(1000)
        {
            config.rateLimit = 1000;
            config.rateWindowSeconds = 60;
            dispatcher = std::make_unique<Dispatcher>(*api.queue, api.handlers, api.t.clock,
                                                      QStringLiteral("ui"));
            settings = std::make_unique<SettingsService>(*api.t.store, config);
            if (!settings->load().ok())
                qFatal("cannot load the settings");
            settings->setApplier(SettingsService::Group::RateLimit,
                                 [this](const FerryConfig &next) {
                                     RateLimitPolicy policy = api.limiter->policy();
                                     policy.limit = next.rateLimit;
                                     policy.window = std::chrono::seconds(next.rateWindowSeconds);
                                     return api.limiter->setPolicy(policy);
                                 });
            settings->setApplier(SettingsService::Group::TrustedProxies,
                                 [this](const FerryConfig &next) -> Result<void> {
                                     auto trusted =
                                         ClientAddress::fromTrustedProxies(next.trustedProxies);
                                     if (!trusted)
                                         return trusted.error();
                                     api.handler->setClientAddress(*trusted);
                                     return {};
                                 });
            context = std::make_unique<ConsoleContext>(
                ConsoleContext{*api.t.store, *api.queue, dispatcher.get(), *api.users, *api.quotas,
                               nullptr, &config, QString(), &readers});
            context->settings = settings.get();
            page = std::make_unique<SettingsPage>(*context);
            page->show();
        }
        ~Console()
        {
            page.reset();
            readers.waitForDone();
        }
        bool save(const QHash<QString, QString> &values)
        {
            for (auto it = values.cbegin(); it != values.cend(); ++it)
                page->findChild<QLineEdit *>(QStringLiteral("setting_") + it.key())
                    ->setText(it.value());
            QSignalSpy saved(page.get(), &SettingsPage::saved);
            page->findChild<QPushButton *>(QStringLiteral("saveSettings"))->click();
            return saved.wait(10'000);
        }
        int get(const QByteArray &forwardedFor = {})
        {
            QList<std::pair<QByteArray, QByteArray>> extra;
            if (!forwardedFor.isEmpty())
                extra.append({"X-Forwarded-For", forwardedFor});
            return api.call("GET", QStringLiteral("/api/v1/quota"), api.aliceToken, extra).status;
        }

        ApiFixture api;
        FerryConfig config;
        QThreadPool readers;
        std::unique_ptr<Dispatcher> dispatcher;
        std::unique_ptr<SettingsService> settings;
        std::unique_ptr<ConsoleContext> context;
        std::unique_ptr<SettingsPage> page;
    };

private Q_SLOTS:
    void rateLimitChangeIsLive()
    {
        Console c;
        QCOMPARE(c.get(), 200);
        QVERIFY(c.save({{QStringLiteral("rate_limit"), QStringLiteral("2")}}));
        const Reply first = c.api.call("GET", QStringLiteral("/api/v1/quota"), c.api.aliceToken);
        QCOMPARE(first.status, 200);
        QCOMPARE(first.headers.value("ratelimit-policy"), QByteArray("\"default\";q=2;w=60"));
        QCOMPARE(c.get(), 200);
        QCOMPARE(c.get(), 429);
    }

    void trustedProxiesChangeIsLive()
    {
        Console c;
        QVERIFY(c.save({{QStringLiteral("rate_limit"), QStringLiteral("1")}}));
        // Not trusted yet: X-Forwarded-For is ignored, every request is the loopback peer's.
        QCOMPARE(c.get("203.0.113.1"), 200);
        QCOMPARE(c.get("203.0.113.2"), 429);
        QVERIFY(c.save({{QStringLiteral("trusted_proxies"), QStringLiteral("127.0.0.1, ::1")}}));
        // Trusted: each forwarded client has its own quota.
        QCOMPARE(c.get("203.0.113.3"), 200);
        QCOMPARE(c.get("203.0.113.4"), 200);
        QCOMPARE(c.get("203.0.113.3"), 429);
    }
};

QTEST_MAIN(tst_SettingsApi)
#include "tst_settingsapi.moc"
