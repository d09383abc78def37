#include "mainwindow.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "testsupport.h"

#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableWidget>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

// The console's first view, rendered for real (offscreen) over a real engine.
class tst_MainWindow : public QObject
{
    Q_OBJECT

private:
    struct Console
    {
        Console()
        {
            registerBuiltinHandlers(handlers);
            QueueConfig config;
            config.pollIntervalMs = 20;
            queue = std::make_unique<JobQueue>(*t.store, handlers, clock, config);
            dispatcher =
                std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("ui"));
            users = std::make_unique<UserDirectory>(*t.store, clock);
            quotas = std::make_unique<QuotaLedger>(*t.store, clock);
            window = std::make_unique<MainWindow>(ConsoleContext{*t.store, *queue, *dispatcher,
                                                                 *users, *quotas, nullptr, nullptr,
                                                                 QString(), nullptr});
            window->resize(1000, 600);
            window->show();
        }
        ~Console()
        {
            window.reset();
            dispatcher.reset();
        }
        template<typename T>
        T *find(const char *name)
        {
            return window->findChild<T *>(QLatin1String(name));
        }
        TempStore t;
        SystemClock clock;
        HandlerRegistry handlers;
        std::unique_ptr<JobQueue> queue;
        std::unique_ptr<Dispatcher> dispatcher;
        std::unique_ptr<UserDirectory> users;
        std::unique_ptr<QuotaLedger> quotas;
        std::unique_ptr<MainWindow> window;
    };

private Q_SLOTS:
    void emptyStateSaysWhatToDo()
    {
        Console c;
        auto *body = c.find<QStackedWidget>("body");
        QVERIFY(body);
        QTRY_COMPARE(body->currentIndex(), 0);
        auto *empty = qobject_cast<QLabel *>(body->currentWidget());
        QVERIFY(empty);
        QVERIFY(empty->text().contains(u"ferry user add"));
        QVERIFY(empty->text().contains(u"ferry enqueue"));
    }

    void showsJobsAndCounts()
    {
        Console c;
        const qint64 user = c.t.addUser(QStringLiteral("alice"));
        QVERIFY(c.dispatcher->start().ok());
        NewJob job;
        job.userId = user;
        job.type = QStringLiteral("noop");
        QVERIFY(c.queue->enqueueBatch(QList<NewJob>(7, job)).ok());
        auto *table = c.find<QTableWidget>("jobsTable");
        QTRY_COMPARE_WITH_TIMEOUT(table->rowCount(), 7, 10'000);
        QTRY_VERIFY_WITH_TIMEOUT(c.find<QLabel>("summary")->text().contains(u"completed <b>7</b>"),
                                 10'000);
        QCOMPARE(c.find<QStackedWidget>("body")->currentIndex(), 1);
        QCOMPARE(table->item(0, 0)->text(), QStringLiteral("7")); // newest first
        QCOMPARE(table->item(0, 1)->text(), QStringLiteral("alice"));
        QCOMPARE(table->item(0, 2)->text(), QStringLiteral("noop"));

        const QString shot = qEnvironmentVariable("FERRY_SCREENSHOT");
        if (!shot.isEmpty())
            QVERIFY(c.window->grab().save(shot));
    }

    void pauseButtonPausesTheQueue()
    {
        Console c;
        auto *button = c.find<QPushButton>("pauseButton");
        QTRY_COMPARE(button->text(), QStringLiteral("Pause queue"));
        QTest::mouseClick(button, Qt::LeftButton);
        QVERIFY(c.queue->isPaused());
        QTRY_COMPARE(button->text(), QStringLiteral("Resume queue"));
        QTRY_VERIFY(c.find<QLabel>("statusText")->text().contains(u"PAUSED"));
        QTest::mouseClick(button, Qt::LeftButton);
        QVERIFY(!c.queue->isPaused());
    }

    void concurrencySpinBoxAppliesLive()
    {
        Console c;
        auto *spin = c.find<QSpinBox>("concurrency");
        QCOMPARE(spin->value(), c.dispatcher->maxConcurrency());
        spin->setValue(9);
        QCOMPARE(c.dispatcher->maxConcurrency(), 9);
        QCOMPARE(spin->maximum(), 64);
        QCOMPARE(spin->minimum(), 1);
    }
};

QTEST_MAIN(tst_MainWindow)
#include "tst_mainwindow.moc"
