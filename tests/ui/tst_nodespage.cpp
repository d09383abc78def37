// The console's Nodes page over a real store: it lists every node the store holds (id, role,
// address, running jobs, heartbeat age, RSS, leader), the status bar counts them, and the page
// marks observers (consoles opened with --observe). The page renders to
// build/screenshots/nodes.png.

#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/mainwindow.h"
#include "ui/nodes/nodespage.h"

#include <QDateTime>
#include <QDir>
#include <QLabel>
#include <QStackedWidget>
#include <QTableWidget>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

class tst_NodesPage : public QObject
{
    Q_OBJECT

private:
    static QString screenshotDir()
    {
        QString dir = qEnvironmentVariable("FERRY_SCREENSHOT_DIR");
        if (dir.isEmpty())
            dir = QCoreApplication::applicationDirPath() + QStringLiteral("/screenshots");
        QDir().mkpath(dir);
        return dir;
    }

    static NodeRecord
    node(const QString &id, const QString &address, qint64 heartbeat, int running, qint64 rss)
    {
        NodeRecord n;
        n.id = id;
        n.address = address;
        n.version = QStringLiteral("0.9.0");
        n.startedAt = heartbeat - 3'600'000;
        n.heartbeatAt = heartbeat;
        n.runningJobs = running;
        n.rssBytes = rss;
        return n;
    }

private Q_SLOTS:
    void listsTheNodesTheStoreHolds()
    {
        TempStore t;
        SystemClock clock;
        HandlerRegistry handlers;
        registerBuiltinHandlers(handlers);
        JobQueue queue(*t.store, handlers, clock, QueueConfig{});
        const QString self = QStringLiteral("console-host:4242:ab12");
        Dispatcher dispatcher(queue, handlers, clock, self);
        UserDirectory users(*t.store, clock);
        QuotaLedger quotas(*t.store, clock);

        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        QVERIFY(
            t.store->upsertNode(node(self, QStringLiteral("10.0.0.1:8080"), now, 2, 150 << 20)));
        QVERIFY(t.store->upsertNode(node(QStringLiteral("worker-b:917:cd34"),
                                         QStringLiteral("10.0.0.2:8080"), now - 1'500, 5,
                                         qint64(310) << 20)));
        QVERIFY(t.store->upsertNode(node(QStringLiteral("worker-c:1203:ef56"),
                                         QStringLiteral("10.0.0.3:8080"), now - 9'000, 0,
                                         qint64(98) << 20)));
        NodeRecord observer =
            node(QStringLiteral("zz-laptop:77:aa11"), QString(), now - 500, 0, qint64(60) << 20);
        observer.observer = true;
        QVERIFY(t.store->upsertNode(observer));
        QVERIFY(*t.store->acquireClusterLease(LeaderLeaseName, QStringLiteral("worker-b:917:cd34"),
                                              now, now + 60'000));

        ConsoleContext context{
            *t.store, queue,   &dispatcher, users,
            quotas,   nullptr, nullptr,     QStringLiteral("http://10.0.0.1:8080/api/v1/")};
        MainWindow window(context);
        window.resize(1100, 700);
        window.show();
        window.showPage(MainWindow::Nodes);
        auto *table = window.findChild<QTableWidget *>(QStringLiteral("nodesTable"));
        QVERIFY(table);
        QTRY_COMPARE(table->rowCount(), 4);
        enum { Id, Role, Address, Running, Heartbeat, Rss, Leader };
        auto cell = [&](int row, int column) { return table->item(row, column)->text(); };
        QCOMPARE(cell(0, Id), self + QStringLiteral(" (this node)"));
        QCOMPARE(cell(0, Role), QStringLiteral("worker"));
        QCOMPARE(cell(0, Address), QStringLiteral("10.0.0.1:8080"));
        QCOMPARE(cell(0, Running), QStringLiteral("2"));
        QCOMPARE(cell(0, Rss), QStringLiteral("150.0 MB"));
        QCOMPARE(cell(1, Id), QStringLiteral("worker-b:917:cd34"));
        QCOMPARE(cell(1, Running), QStringLiteral("5"));
        QCOMPARE(cell(1, Leader), QStringLiteral("leader"));
        QCOMPARE(cell(0, Leader), QString());
        QCOMPARE(cell(2, Id), QStringLiteral("worker-c:1203:ef56"));
        QVERIFY2(cell(2, Heartbeat).endsWith(QStringLiteral(" s ago")),
                 qPrintable(cell(2, Heartbeat)));
        QVERIFY(cell(2, Heartbeat).section(u' ', 0, 0).toDouble() >= 9.0); // heartbeat age
        // An old heartbeat stands out; a fresh one does not.
        QCOMPARE(table->item(2, Heartbeat)->foreground().color(), QColor(0xc6, 0x28, 0x28));
        QVERIFY(table->item(1, Heartbeat)->foreground().style() == Qt::NoBrush);
        // The observer is marked, listens nowhere and runs nothing.
        QCOMPARE(cell(3, Id), QStringLiteral("zz-laptop:77:aa11"));
        QCOMPARE(cell(3, Role), QStringLiteral("observer"));
        QCOMPARE(cell(3, Address), QStringLiteral("—"));
        QCOMPARE(cell(1, Role), QStringLiteral("worker"));
        QCOMPARE(window.findChild<QLabel *>(QStringLiteral("nodesSummary"))->text(),
                 QStringLiteral("4 nodes (1 observer), 7 jobs running"));
        QTRY_COMPARE(window.findChild<QLabel *>(QStringLiteral("nodeCount"))->text(),
                     QStringLiteral("4 nodes"));

        const QString file = screenshotDir() + QStringLiteral("/nodes.png");
        QVERIFY2(window.grab().save(file), qPrintable(file));

        // A node that stops is gone at the next read.
        QVERIFY(t.store->removeNode(QStringLiteral("worker-c:1203:ef56")));
        window.findChild<NodesPage *>(QStringLiteral("nodesPage"))->refresh();
        QTRY_COMPARE(table->rowCount(), 3);
        QTRY_COMPARE(window.findChild<QLabel *>(QStringLiteral("nodeCount"))->text(),
                     QStringLiteral("3 nodes"));
    }

    void formatsAgesAndSizes()
    {
        QCOMPARE(NodesPage::formatAge(1'500), QStringLiteral("1.5 s ago"));
        QCOMPARE(NodesPage::formatAge(-3), QStringLiteral("0.0 s ago"));
        QCOMPARE(NodesPage::formatAge(125'000), QStringLiteral("2 min ago"));
        QCOMPARE(NodesPage::formatBytes(-1), QStringLiteral("?"));
        QCOMPARE(NodesPage::formatBytes(qint64(3) << 20), QStringLiteral("3.0 MB"));
        // This node counts even before its first heartbeat lands.
        QCOMPARE(NodesPage::liveCount({}, QStringLiteral("me")), 1);
    }
};

QTEST_MAIN(tst_NodesPage)
#include "tst_nodespage.moc"
