#pragma once
// The console over a real engine for the window tests: a temporary store, queue, dispatcher,
// users and quotas, and the MainWindow shown offscreen over them.

#include "config/ferryconfig.h"
#include "core/logbuffer.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/mainwindow.h"

#include <QStackedWidget>
#include <QTest>

#include <functional>
#include <memory>

namespace Ferry::Test {

struct ConsoleFixture
{
    // settings: the window's remembered layout (null: none); config: what About shows;
    // addHandlers: job types beyond the built-in ones.
    explicit ConsoleFixture(QSettings *settings = nullptr,
                            const FerryConfig *config = nullptr,
                            const std::function<void(HandlerRegistry &)> &addHandlers = {})
    {
        registerBuiltinHandlers(handlers);
        if (addHandlers)
            addHandlers(handlers);
        QueueConfig queueConfig;
        queueConfig.pollIntervalMs = 20;
        queue = std::make_unique<JobQueue>(*t.store, handlers, clock, queueConfig);
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("ui"));
        users = std::make_unique<UserDirectory>(*t.store, clock);
        quotas = std::make_unique<QuotaLedger>(*t.store, clock);
        context = std::make_unique<ConsoleContext>(
            ConsoleContext{*t.store, *queue, dispatcher.get(), *users, *quotas, nullptr, config,
                           QStringLiteral("http://127.0.0.1:8080/api/v1/")});
        context->log = &log;
        context->windowSettings = settings;
        open();
    }
    ~ConsoleFixture()
    {
        window.reset();
        dispatcher.reset();
    }
    Q_DISABLE_COPY_MOVE(ConsoleFixture)

    // A new window over the same engine (the old one, if any, is gone first).
    void open()
    {
        window.reset();
        window = std::make_unique<MainWindow>(*context);
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));
    }
    template<typename T>
    T *find(const char *name)
    {
        return window->findChild<T *>(QLatin1String(name));
    }
    int currentPage() { return find<QStackedWidget>("pages")->currentIndex(); }

    TempStore t;
    SystemClock clock;
    HandlerRegistry handlers;
    LogBuffer log{100};
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<UserDirectory> users;
    std::unique_ptr<QuotaLedger> quotas;
    std::unique_ptr<ConsoleContext> context;
    std::unique_ptr<MainWindow> window;
};

} // namespace Ferry::Test
