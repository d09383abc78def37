#include "consolefixture.h"
#include "core/logbuffer.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/logpane.h"
#include "ui/mainwindow.h"

#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableWidget>
#include <QTest>
#include <QToolBar>
#include <QToolButton>

using namespace Ferry;
using namespace Ferry::Test;

// The console rendered for real (offscreen) over a real engine: its controls change the
// engine's state, and every page renders.
class tst_MainWindow : public QObject
{
    Q_OBJECT

private:
    struct Console : ConsoleFixture
    {
        Console() { window->resize(1100, 700); } // the size the screenshots are taken at
    };

    // build/screenshots by default (FERRY_SCREENSHOT_DIR, set by CMake); else beside the test.
    static QString screenshotDir()
    {
        QString dir = qEnvironmentVariable("FERRY_SCREENSHOT_DIR");
        if (dir.isEmpty())
            dir = QCoreApplication::applicationDirPath() + QStringLiteral("/screenshots");
        QDir().mkpath(dir);
        return dir;
    }

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
        QVERIFY(empty->text().contains(u"curl"));
        QVERIFY(empty->text().contains(u"http://127.0.0.1:8080/api/v1/uploads"));
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
    }

    void pauseButtonPausesTheQueue()
    {
        Console c;
        // The tool bar's button for the Pause action (the Queue menu holds the same action).
        auto *toolbar = c.find<QToolBar>("queueToolbar");
        QAction *pause = c.window->action(QStringLiteral("pause"));
        QVERIFY(toolbar && pause);
        auto *button = qobject_cast<QToolButton *>(toolbar->widgetForAction(pause));
        QVERIFY(button);
        auto *indicator = c.find<QLabel>("pausedIndicator");
        QTRY_COMPARE(button->text(), QStringLiteral("Pause queue"));
        QVERIFY(!indicator->isVisible());
        QTest::mouseClick(button, Qt::LeftButton);
        QTRY_VERIFY(c.queue->isPaused()); // written off the GUI thread
        QCOMPARE(**c.t.store->setting(QStringLiteral("queue.paused")), QStringLiteral("1"));
        QTRY_COMPARE(button->text(), QStringLiteral("Resume queue"));
        QTRY_VERIFY(indicator->isVisible());
        QTRY_VERIFY(c.find<QLabel>("statusText")->text().contains(u"PAUSED"));

        // Paused: a queued job does not start.
        const qint64 user = c.t.addUser(QStringLiteral("alice"));
        QVERIFY(c.dispatcher->start().ok());
        NewJob job;
        job.userId = user;
        job.type = QStringLiteral("noop");
        const qint64 id = c.queue->enqueue(job)->id;
        QTest::qWait(200);
        QCOMPARE((*c.t.store->job(id, std::nullopt))->status, JobStatus::Pending);

        QTRY_VERIFY(button->isEnabled());
        QTest::mouseClick(button, Qt::LeftButton);
        QTRY_VERIFY(!c.queue->isPaused());
        QTRY_VERIFY(!indicator->isVisible());
        QTRY_COMPARE_WITH_TIMEOUT((*c.t.store->job(id, std::nullopt))->status, JobStatus::Completed,
                                  10'000);
    }

    void concurrencySpinBoxAppliesLive()
    {
        Console c;
        auto *spin = c.find<QSpinBox>("concurrency");
        QCOMPARE(spin->value(), c.dispatcher->maxConcurrency());
        QCOMPARE(spin->maximum(), 64);
        QCOMPARE(spin->minimum(), 1);
        spin->setFocus();
        spin->selectAll();
        QTest::keyClicks(spin, QStringLiteral("9"));
        QCOMPARE(c.dispatcher->maxConcurrency(), 9);
        QCOMPARE(c.dispatcher->effectiveConcurrency(), 9);

        // The adaptive limit is shown beside the configured one.
        c.dispatcher->setResourceLimit(2);
        QTRY_VERIFY(c.find<QLabel>("effectiveLimit")->text().contains(u"<b>2</b>"));
        QTRY_VERIFY(c.find<QLabel>("limit")->text().contains(u"<b>2</b> (adaptive) of 9"));
        c.dispatcher->setResourceLimit(0);
        QTRY_VERIFY(!c.find<QLabel>("effectiveLimit")->text().contains(u"<b>"));
    }

    void perUserCapAppliesLiveAndPersists()
    {
        Console c;
        auto *spin = c.find<QSpinBox>("perUserCap");
        QCOMPARE(spin->value(), 0);
        QCOMPARE(spin->text(), QStringLiteral("no cap"));
        QCOMPARE(spin->maximum(), 64);
        spin->setFocus();
        QTest::keyClick(spin, Qt::Key_Up);
        QTRY_COMPARE(c.queue->maxPerUser(), 1); // written off the GUI thread
        QCOMPARE(**c.t.store->setting(QStringLiteral("queue.maxPerUser")), QStringLiteral("1"));

        // With the cap, one user's second job waits while the first runs.
        c.handlers.add(QStringLiteral("hold"), std::make_shared<HoldHandler>());
        const qint64 user = c.t.addUser(QStringLiteral("alice"));
        QVERIFY(c.dispatcher->start().ok());
        NewJob job;
        job.userId = user;
        job.type = QStringLiteral("hold");
        job.payload = {{QStringLiteral("ms"), 300}};
        QVERIFY(c.queue->enqueueBatch(QList<NewJob>(2, job)).ok());
        QTRY_COMPARE(c.dispatcher->runningCount(), 1);
        QCOMPARE(c.t.store->countByStatus()->value(JobStatus::Running), 1);
        QTRY_COMPARE_WITH_TIMEOUT(c.t.store->countByStatus()->value(JobStatus::Completed), 2,
                                  10'000);

        // A change made elsewhere (another console, the API) shows in the spin box.
        QVERIFY(c.queue->setMaxPerUser(5).ok());
        QTRY_COMPARE(spin->value(), 5);
    }

    void statusBarShowsEndpointAndNodes()
    {
        Console c;
        QCOMPARE(c.find<QLabel>("endpointStatus")->text(),
                 QStringLiteral("API: http://127.0.0.1:8080/api/v1/ (listening)"));
        QCOMPARE(c.find<QLabel>("nodeCount")->text(), QStringLiteral("1 node"));
    }

    void logPaneShowsRecentRecordsByLevel()
    {
        Console c;
        auto *pane = c.find<LogPane>("logPane");
        QVERIFY(pane);
        c.log.append(QtInfoMsg, QStringLiteral("ferry.queue"), QStringLiteral("queue paused"), 1);
        c.log.append(QtWarningMsg, QStringLiteral("ferry.monitor"), QStringLiteral("memory high"),
                     2);
        c.log.append(QtDebugMsg, QStringLiteral("ferry.http"), QStringLiteral("noise"), 3);
        QTRY_COMPARE(pane->visibleRows(), 2); // info and above by default
        auto *level = c.find<QComboBox>("logLevel");
        level->setCurrentIndex(level->findText(QStringLiteral("warning")));
        QCOMPARE(pane->visibleRows(), 1);
        level->setCurrentIndex(level->findText(QStringLiteral("debug")));
        QCOMPARE(pane->visibleRows(), 3);
        // Bounded: the buffer keeps its last 100, and so does the pane.
        for (int i = 0; i < 150; ++i)
            c.log.append(QtInfoMsg, QStringLiteral("ferry.test"), QString::number(i), 10 + i);
        QTRY_COMPARE(pane->visibleRows(), 100);
        QCOMPARE(c.log.recordsAfter().size(), 100);
    }

    void rendersEveryPageToPng()
    {
        Console c;
        const qint64 user = c.t.addUser(QStringLiteral("alice"));
        QVERIFY(c.dispatcher->start().ok());
        NewJob job;
        job.userId = user;
        job.type = QStringLiteral("noop");
        QVERIFY(c.queue->enqueueBatch(QList<NewJob>(5, job)).ok());
        QTRY_COMPARE_WITH_TIMEOUT(c.find<QTableWidget>("jobsTable")->rowCount(), 5, 10'000);
        const QString dir = screenshotDir();
        const QStringList names{QStringLiteral("overview"), QStringLiteral("jobs"),
                                QStringLiteral("datasets"), QStringLiteral("users"),
                                QStringLiteral("settings")};
        for (int page = MainWindow::Overview; page <= MainWindow::Settings; ++page) {
            c.window->showPage(MainWindow::Page(page));
            QCOMPARE(c.find<QStackedWidget>("pages")->currentIndex(), page);
            QTest::qWait(300); // let the page's first read land
            const QString file = dir + u'/' + names.at(page) + QStringLiteral(".png");
            QVERIFY2(c.window->grab().save(file), qPrintable(file));
            QVERIFY(QFileInfo(file).size() > 0);
        }
    }

private:
    // Sleeps payload.ms.
    class HoldHandler final : public JobHandler
    {
    public:
        JobOutcome run(JobContext &context) override
        {
            QThread::msleep(ulong(context.payload().value(u"ms").toInt()));
            return JobOutcome::completed();
        }
    };
};

QTEST_MAIN(tst_MainWindow)
#include "tst_mainwindow.moc"
