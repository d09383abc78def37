#include "config/ferryconfig.h"
#include "consolefixture.h"
#include "core/logbuffer.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/aboutdialog.h"
#include "ui/jobs/jobspage.h"
#include "ui/mainwindow.h"
#include "ui/overview/metricchart.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QHeaderView>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QToolBar>

using namespace Ferry;
using namespace Ferry::Test;

// The console as a desktop application (issue 16, item 4): menus and a tool bar of actions with
// icons and shortcuts that reach the engine, an About dialog, a layout remembered across starts,
// and pages that follow a dark palette. Rendered for real (offscreen) over a real engine.
class tst_ConsoleWindow : public QObject
{
    Q_OBJECT

private:
    using Console = ConsoleFixture;

    static QPalette darkPalette()
    {
        QPalette p;
        p.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
        p.setColor(QPalette::WindowText, QColor(0xee, 0xee, 0xee));
        p.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
        p.setColor(QPalette::AlternateBase, QColor(0x26, 0x26, 0x26));
        p.setColor(QPalette::Text, QColor(0xee, 0xee, 0xee));
        p.setColor(QPalette::Button, QColor(0x35, 0x35, 0x35));
        p.setColor(QPalette::ButtonText, QColor(0xee, 0xee, 0xee));
        p.setColor(QPalette::Mid, QColor(0x60, 0x60, 0x60));
        p.setColor(QPalette::Highlight, QColor(0x2a, 0x82, 0xda));
        p.setColor(QPalette::HighlightedText, Qt::white);
        p.setColor(QPalette::ToolTipBase, QColor(0x35, 0x35, 0x35));
        p.setColor(QPalette::ToolTipText, QColor(0xee, 0xee, 0xee));
        return p;
    }

    // Mean lightness (0-255) of an image, and the share of its pixels lighter than 170.
    static std::pair<double, double> lightness(const QImage &image)
    {
        double sum = 0;
        qint64 light = 0;
        qint64 count = 0;
        for (int y = 0; y < image.height(); y += 2) {
            for (int x = 0; x < image.width(); x += 2) {
                const int l = QColor(image.pixel(x, y)).lightness();
                sum += l;
                light += l > 170;
                ++count;
            }
        }
        return {sum / double(count), double(light) / double(count)};
    }

private Q_SLOTS:
    void menusAndToolBarHoldTheActions()
    {
        Console c;
        QStringList menus;
        for (QAction *menu : c.window->menuBar()->actions())
            menus.append(menu->text().remove(u'&'));
        QCOMPARE(menus, (QStringList{QStringLiteral("File"), QStringLiteral("Queue"),
                                     QStringLiteral("View"), QStringLiteral("Help")}));
        for (const char *name : {"pause", "refresh", "find", "cancelSelected", "retrySelected",
                                 "page1", "page6", "showLog", "about", "quit"}) {
            QAction *action = c.window->action(QLatin1String(name));
            QVERIFY2(action, name);
            QVERIFY2(!action->icon().isNull(), name);
            QVERIFY2(!action->toolTip().isEmpty(), name);
            if (qstrcmp(name, "about") != 0)
                QVERIFY2(!action->shortcut().isEmpty(), name);
        }
        QVERIFY(c.window->action(QStringLiteral("find"))->toolTip().contains(u"Ctrl+F"));
        auto *toolbar = c.find<QToolBar>("queueToolbar");
        for (const char *name : {"pause", "refresh", "cancelSelected", "retrySelected", "find"})
            QVERIFY2(toolbar->widgetForAction(c.window->action(QLatin1String(name))), name);
        // The navigation shows each page with its icon.
        auto *navigation = c.find<QListWidget>("navigation");
        QCOMPARE(navigation->count(), int(MainWindow::PageCount));
        for (int i = 0; i < navigation->count(); ++i)
            QVERIFY(!navigation->item(i)->icon().isNull());
    }

    void shortcutsReachTheEngine()
    {
        Console c;
        c.window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(c.window.get()));

        QTest::keyClick(c.window.get(), Qt::Key_3, Qt::ControlModifier);
        QCOMPARE(c.currentPage(), int(MainWindow::Datasets));
        QTest::keyClick(c.window.get(), Qt::Key_F, Qt::ControlModifier);
        QCOMPARE(c.currentPage(), int(MainWindow::Jobs));
        QTRY_COMPARE(QApplication::focusWidget(), c.find<QLineEdit>("searchField"));

        QTest::keyClick(c.window.get(), Qt::Key_P, Qt::ControlModifier);
        QTRY_VERIFY(c.queue->isPaused()); // written off the GUI thread, persisted
        QCOMPARE(**c.t.store->setting(QStringLiteral("queue.paused")), QStringLiteral("1"));
        QTRY_COMPARE(c.window->action(QStringLiteral("pause"))->text(),
                     QStringLiteral("Resume queue"));

        // Paused, a job stays pending; Ctrl+Shift+X cancels the selected job.
        const qint64 user = c.t.addUser(QStringLiteral("alice"));
        NewJob job;
        job.userId = user;
        job.type = QStringLiteral("noop");
        const qint64 id = c.queue->enqueue(job)->id;
        auto *jobs = c.find<JobsPage>("jobspage");
        jobs->setConfirm([](QWidget *, const QString &) { return true; });
        QTest::keyClick(c.window.get(), Qt::Key_F5); // Refresh reads the new job now
        auto *view = c.find<QTableView>("jobsView");
        QTRY_COMPARE(view->model()->rowCount(), 1);
        // Nothing selected: nothing to cancel or retry.
        QVERIFY(!c.window->action(QStringLiteral("cancelSelected"))->isEnabled());
        QVERIFY(!c.window->action(QStringLiteral("retrySelected"))->isEnabled());
        view->selectRow(0);
        QVERIFY(c.window->action(QStringLiteral("cancelSelected"))->isEnabled());
        QVERIFY(c.window->action(QStringLiteral("retrySelected"))->isEnabled());
        QTest::keyClick(c.window.get(), Qt::Key_X, Qt::ControlModifier | Qt::ShiftModifier);
        QTRY_COMPARE((*c.t.store->job(id, std::nullopt))->status, JobStatus::Cancelled);
        // Ctrl+Shift+R retries it: back to pending.
        view->selectRow(0);
        QTest::keyClick(c.window.get(), Qt::Key_R, Qt::ControlModifier | Qt::ShiftModifier);
        QTRY_COMPARE((*c.t.store->job(id, std::nullopt))->status, JobStatus::Pending);

        // Cancel and retry only act on the Jobs page.
        QTest::keyClick(c.window.get(), Qt::Key_1, Qt::ControlModifier);
        QCOMPARE(c.currentPage(), int(MainWindow::Overview));
        QVERIFY(!c.window->action(QStringLiteral("cancelSelected"))->isEnabled());
    }

    void layoutIsRememberedAcrossStarts()
    {
        QTemporaryDir dir;
        QSettings settings(dir.filePath(QStringLiteral("console.ini")), QSettings::IniFormat);
        Console c(&settings);
        c.window->resize(1180, 640);
        c.window->showPage(MainWindow::Jobs);
        auto *splitter = c.find<QSplitter>("jobsSplitter");
        splitter->setSizes({500, 200});
        const QList<int> sizes = splitter->sizes();
        auto *header = c.find<QTableView>("jobsView")->horizontalHeader();
        header->resizeSection(1, 177);
        auto *range = c.find<QComboBox>("range");
        range->setCurrentIndex(2);
        c.window->close(); // saves
        c.window.reset();
        QVERIFY(settings.contains(QStringLiteral("window/geometry")));

        c.open();
        QCOMPARE(c.window->size(), QSize(1180, 640));
        QCOMPARE(c.currentPage(), int(MainWindow::Jobs));
        QCOMPARE(c.find<QSplitter>("jobsSplitter")->sizes(), sizes);
        QCOMPARE(c.find<QTableView>("jobsView")->horizontalHeader()->sectionSize(1), 177);
        QCOMPARE(c.find<QComboBox>("range")->currentIndex(), 2);
    }

    void firstStartTakesMostOfTheScreen()
    {
        QTemporaryDir dir;
        QSettings settings(dir.filePath(QStringLiteral("console.ini")), QSettings::IniFormat);
        Console c(&settings);
        // The offscreen screen is small: the window's own minimum width may win.
        const QSize available = c.window->screen()->availableGeometry().size();
        const QSize wanted = (available * 0.85).expandedTo(QSize(800, 500)).boundedTo(available);
        QCOMPARE(c.window->size(), wanted.expandedTo(c.window->minimumSizeHint()));
        QVERIFY(c.window->size() != QSize(1100, 700)); // not the fixed size of before
    }

    void aboutNamesVersionsAndDataDirectory()
    {
        QTemporaryDir dir;
        FerryConfig config;
        config.dataDir = dir.path();
        Console c(nullptr, &config);
        AboutDialog about(*c.context);
        QVERIFY(about.text().contains(QCoreApplication::applicationVersion().toHtmlEscaped()));
        QVERIFY(about.text().contains(QString::fromLatin1(qVersion())));
        QVERIFY(about.text().contains(dir.path()));
        QTRY_VERIFY(about.text().contains(u"SQLite 3.")); // read on the reader thread
    }

    void chartsFollowThePalette()
    {
        MetricChart chart(QStringLiteral("Memory"), QStringLiteral("MiB"));
        chart.setPalette(darkPalette());
        QVERIFY2(chart.backgroundColor().lightness() < 60,
                 qPrintable(chart.backgroundColor().name()));
        QVERIFY2(chart.labelColor().lightness() > 200, qPrintable(chart.labelColor().name()));
        QPalette light;
        light.setColor(QPalette::Base, Qt::white);
        light.setColor(QPalette::Text, Qt::black);
        chart.setPalette(light);
        QCOMPARE(chart.backgroundColor(), QColor(Qt::white));
        QCOMPARE(chart.labelColor(), QColor(Qt::black));
    }

    // Every page under a dark palette: dark on the whole, with light text on it. The PNGs land
    // in build/screenshots/dark-<page>.png.
    void everyPageIsLegibleInADarkPalette()
    {
        const QPalette saved = QApplication::palette();
        QApplication::setPalette(darkPalette());
        {
            Console c;
            c.window->resize(1280, 800);
            QString dir = qEnvironmentVariable("FERRY_SCREENSHOT_DIR");
            if (dir.isEmpty())
                dir = QCoreApplication::applicationDirPath() + QStringLiteral("/screenshots");
            QDir().mkpath(dir);
            const QStringList names{QStringLiteral("overview"), QStringLiteral("jobs"),
                                    QStringLiteral("datasets"), QStringLiteral("users"),
                                    QStringLiteral("settings"), QStringLiteral("nodes")};
            for (int page = 0; page < MainWindow::PageCount; ++page) {
                c.window->showPage(MainWindow::Page(page));
                QTest::qWait(100);
                const QImage image = c.window->grab().toImage();
                image.save(dir + QStringLiteral("/dark-%1.png").arg(names[page]));
                const auto [mean, lightShare] = lightness(image);
                QVERIFY2(
                    mean < 90,
                    qPrintable(QStringLiteral("%1: mean lightness %2").arg(names[page]).arg(mean)));
                QVERIFY2(
                    lightShare > 0.003,
                    qPrintable(
                        QStringLiteral("%1: light pixels %2").arg(names[page]).arg(lightShare)));
            }
        }
        QApplication::setPalette(saved);
    }
};

QTEST_MAIN(tst_ConsoleWindow)
#include "tst_consolewindow.moc"
