#include "consolefixture.h"
#include "core/logbuffer.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "queue/jobhandler.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/attention/attention.h"
#include "ui/attention/trayicon.h"
#include "ui/mainwindow.h"

#include <QCheckBox>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

// Attention when it matters (issue 16, item 5): notices for failed jobs (one per burst), used-up
// quotas (once per user and month) and memory pressure, each switchable and remembered; the
// tray's look per state. Over a real engine, in a real (offscreen) window.
class tst_Attention : public QObject
{
    Q_OBJECT

private:
    // A job type that fails every attempt, for good (the job ends failed).
    class FailingHandler final : public JobHandler
    {
    public:
        JobOutcome run(JobContext &) override
        {
            return JobOutcome::permanentError(
                makeError(ErrorCode::InvalidArgument, QStringLiteral("this job always fails")));
        }
    };

    // The console, with a job type that always fails.
    struct Console : ConsoleFixture
    {
        explicit Console(QSettings *settings = nullptr)
            : ConsoleFixture(settings, nullptr, [](HandlerRegistry &registry) {
                registry.add(QStringLiteral("fail"), std::make_shared<FailingHandler>());
            })
        {}
        qint64 enqueueFailing(qint64 user)
        {
            NewJob job;
            job.userId = user;
            job.type = QStringLiteral("fail");
            return queue->enqueue(job)->id;
        }
    };

private Q_SLOTS:
    void aBurstOfFailuresIsOneNotice()
    {
        Console c;
        QSignalSpy notices(&c.window->attention(), &Attention::notice);
        QSignalSpy states(&c.window->attention(), &Attention::stateChanged);
        const qint64 user = c.t.addUser(QStringLiteral("alice"));
        QList<qint64> ids;
        for (int i = 0; i < 4; ++i)
            ids << c.enqueueFailing(user);
        QVERIFY(c.dispatcher->start().ok());
        for (const qint64 id : std::as_const(ids)) {
            QTRY_VERIFY_WITH_TIMEOUT(isTerminal((*c.t.store->job(id, std::nullopt))->status),
                                     10'000);
        }
        QTRY_COMPARE_WITH_TIMEOUT(notices.count(), 1, 10'000);
        const QString title = notices.at(0).at(0).toString();
        const QString text = notices.at(0).at(1).toString();
        QCOMPARE(title, QStringLiteral("4 jobs failed"));
        QVERIFY2(text.contains(u"4 "), qPrintable(text));
        QCOMPARE(c.window->attention().state(), Attention::State::Failing);
        QVERIFY(!states.isEmpty());

        // A later failure is a burst of its own.
        c.enqueueFailing(user);
        QTRY_COMPARE_WITH_TIMEOUT(notices.count(), 2, 10'000);
        QCOMPARE(notices.at(1).at(0).toString(), QStringLiteral("A job failed"));
    }

    // A console that observes a cluster runs no job: it reads the failures of every node from the
    // database. Here the fixture's dispatcher plays the nodes, and a second Attention, over the
    // same store without a dispatcher, is the observing console.
    void anObservingConsoleReadsFailuresFromTheDatabase()
    {
        Console c;
        const qint64 user = c.t.addUser(QStringLiteral("alice"));
        const qint64 before = c.enqueueFailing(user);
        QVERIFY(c.dispatcher->start().ok());
        QTRY_VERIFY_WITH_TIMEOUT(isTerminal((*c.t.store->job(before, std::nullopt))->status),
                                 10'000);

        ConsoleContext observing = *c.context;
        observing.dispatcher = nullptr;
        QThreadPool readers;
        observing.readers = &readers;
        Attention::Timing timing;
        timing.burstMs = 500;
        timing.failurePollMs = 100;
        Attention observer(observing, timing);
        QSignalSpy notices(&observer, &Attention::notice);
        QTRY_VERIFY(observer.knowsWhereFailuresStand());
        QTest::qWait(300);            // three reads
        QCOMPARE(notices.count(), 0); // a failure from before the console opened is not news
        QCOMPARE(observer.state(), Attention::State::Running);

        for (int i = 0; i < 3; ++i)
            c.enqueueFailing(user);
        QTRY_COMPARE_WITH_TIMEOUT(notices.count(), 1, 10'000);
        QCOMPARE(notices.at(0).at(0).toString(), QStringLiteral("3 jobs failed"));
        QCOMPARE(observer.state(), Attention::State::Failing);

        // The job from before, retried, fails again: that is news.
        QVERIFY(c.queue->retry(before).ok());
        QTRY_COMPARE_WITH_TIMEOUT(notices.count(), 2, 10'000);
        QCOMPARE(notices.at(1).at(0).toString(), QStringLiteral("A job failed"));
        QTest::qWait(1000); // reads go on; nothing is told twice
        QCOMPARE(notices.count(), 2);
    }

    void switchedOffKindsStaySilentAndTheChoiceIsKept()
    {
        QTemporaryDir dir;
        QSettings settings(dir.filePath(QStringLiteral("console.ini")), QSettings::IniFormat);
        {
            Console c(&settings);
            auto *box = c.window->findChild<QCheckBox *>(QStringLiteral("notifyFailures"));
            QVERIFY(box && box->isChecked());
            box->setChecked(false); // on the Settings page
            QVERIFY(!c.window->attention().isEnabled(Attention::Kind::Failures));
            QSignalSpy notices(&c.window->attention(), &Attention::notice);
            const qint64 id = c.enqueueFailing(c.t.addUser(QStringLiteral("alice")));
            QVERIFY(c.dispatcher->start().ok());
            QTRY_VERIFY_WITH_TIMEOUT(isTerminal((*c.t.store->job(id, std::nullopt))->status),
                                     10'000);
            QTest::qWait(3500); // past the burst window: nothing was gathered
            QCOMPARE(notices.count(), 0);
            // The look still says failing: the tray shows it whatever the notices.
            QCOMPARE(c.window->attention().state(), Attention::State::Failing);
        }
        Console again(&settings);
        QVERIFY(!again.window->attention().isEnabled(Attention::Kind::Failures));
        QVERIFY(
            !again.window->findChild<QCheckBox *>(QStringLiteral("notifyFailures"))->isChecked());
        QVERIFY(again.window->attention().isEnabled(Attention::Kind::Quota));
    }

    void aUsedUpQuotaIsNoticedOncePerUserAndMonth()
    {
        Console c;
        QSignalSpy notices(&c.window->attention(), &Attention::notice);
        const qint64 alice = c.t.addUser(QStringLiteral("alice"));
        c.t.addUser(QStringLiteral("bob"));
        QVERIFY(c.quotas->setLimits(alice, 1, std::nullopt).ok());
        c.window->attention().checkQuotas();
        QTest::qWait(300);
        QCOMPARE(notices.count(), 0); // nothing used yet
        auto reserved = c.quotas->reserve(alice, 10);
        QVERIFY(reserved.ok());
        QVERIFY(c.quotas->settle(reserved->reservation, 10).ok());
        c.window->attention().checkQuotas();
        QTRY_COMPARE(notices.count(), 1);
        QVERIFY(notices.at(0).at(1).toString().startsWith(u"alice used"));
        c.window->attention().checkQuotas();
        QTest::qWait(300);
        QCOMPARE(notices.count(), 1); // once per month
    }

    void memoryPressureDropsAreNoticed()
    {
        Console c;
        Attention &attention = c.window->attention();
        QSignalSpy notices(&attention, &Attention::notice);
        attention.limitChanged(8, 8, QString());
        attention.limitChanged(4, 8, QStringLiteral("memory above the high mark (612 MiB)"));
        QCOMPARE(notices.count(), 1);
        QVERIFY(notices.at(0).at(1).toString().contains(u"at most 4 of 8"));
        attention.limitChanged(3, 8, QStringLiteral("CPU saturated"));             // not memory
        attention.limitChanged(5, 8, QStringLiteral("memory below the low mark")); // a rise
        QCOMPARE(notices.count(), 1);
        attention.setEnabled(Attention::Kind::Memory, false);
        attention.limitChanged(2, 8, QStringLiteral("memory above the high mark"));
        QCOMPARE(notices.count(), 1);
    }

    void pausingShowsInTheState()
    {
        Console c;
        QCOMPARE(c.window->attention().state(), Attention::State::Running);
        QVERIFY(c.queue->setPaused(true).ok());
        QTRY_COMPARE(c.window->attention().state(), Attention::State::Paused);
        QVERIFY(c.queue->setPaused(false).ok());
        QTRY_COMPARE(c.window->attention().state(), Attention::State::Running);
    }

    void theTrayIconShowsTheState()
    {
        const QImage running = TrayIcon::iconFor(Attention::State::Running).pixmap(32).toImage();
        const QImage paused = TrayIcon::iconFor(Attention::State::Paused).pixmap(32).toImage();
        const QImage failing = TrayIcon::iconFor(Attention::State::Failing).pixmap(32).toImage();
        QVERIFY(running != paused && running != failing && paused != failing);
        // The failing badge is red; the paused one is dark with white bars.
        const QColor badge = failing.pixelColor(24, 24);
        QVERIFY2(badge.red() > 180 && badge.green() < 90, qPrintable(badge.name()));
        QVERIFY2(paused.pixelColor(21, 24).lightness() > 200,
                 qPrintable(paused.pixelColor(21, 24).name())); // a white bar
        QVERIFY2(paused.pixelColor(28, 18).lightness() < 90,
                 qPrintable(paused.pixelColor(28, 18).name())); // on a dark disc
    }
};

QTEST_MAIN(tst_Attention)
#include "tst_attention.moc"
