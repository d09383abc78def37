#include "../api/apitestsupport.h"
#include "queue/dispatcher.h"
#include "ui/users/tokendialog.h"
#include "ui/users/userspage.h"
#include "ui/users/userstablemodel.h"

#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

// What the Users page changes, seen by a real HTTP client of the API in the same process: a
// rotated token and a disabled user are refused from the next request (the API's token cache
// does not keep them alive), and an edited limit is what the next request sees.
class tst_UsersApi : public QObject
{
    Q_OBJECT

private:
    struct Console
    {
        Console()
        {
            dispatcher = std::make_unique<Dispatcher>(*api.queue, api.handlers, api.t.clock,
                                                      QStringLiteral("ui"));
            context = std::make_unique<ConsoleContext>(
                ConsoleContext{*api.t.store, *api.queue, dispatcher.get(), *api.users, *api.quotas,
                               nullptr, nullptr, QString(), &readers});
            page = std::make_unique<UsersPage>(*context);
            page->setConfirmHook([](const QString &, const QString &) { return true; });
            QSignalSpy refreshed(page.get(), &UsersPage::refreshed);
            page->show();
            if (!refreshed.wait(10'000))
                qFatal("the users page did not load");
        }
        ~Console()
        {
            page.reset();
            readers.waitForDone();
        }
        void select(qint64 userId) { page->view()->selectRow(page->model()->rowOf(userId)); }
        void click(const char *button)
        {
            page->findChild<QPushButton *>(QLatin1String(button))->click();
        }

        ApiFixture api;
        QThreadPool readers;
        std::unique_ptr<Dispatcher> dispatcher;
        std::unique_ptr<ConsoleContext> context;
        std::unique_ptr<UsersPage> page;
    };

private Q_SLOTS:
    void rotatedTokenIsRefusedAtOnce()
    {
        Console c;
        const QByteArray oldToken = c.api.aliceToken;
        QCOMPARE(c.api.call("GET", QStringLiteral("/api/v1/quota"), oldToken).status, 200);
        c.select(c.api.alice.id);
        c.click("rotateToken");
        QVERIFY(waitFor([&] { return !c.page->findChildren<TokenDialog *>().isEmpty(); }, 10'000));
        const QByteArray newToken = c.page->findChild<TokenDialog *>()->token().toUtf8();
        QCOMPARE(c.api.call("GET", QStringLiteral("/api/v1/quota"), oldToken).status, 401);
        QCOMPARE(c.api.call("GET", QStringLiteral("/api/v1/quota"), newToken).status, 200);
    }

    void disabledUserIsRefusedAtOnce()
    {
        Console c;
        QCOMPARE(c.api.call("GET", QStringLiteral("/api/v1/quota"), c.api.bobToken).status, 200);
        QSignalSpy rows(c.page.get(), &UsersPage::rowRefreshed);
        c.select(c.api.bob.id);
        c.click("disableUser");
        QVERIFY(rows.wait(10'000));
        const Reply refused = c.api.call("GET", QStringLiteral("/api/v1/quota"), c.api.bobToken);
        QCOMPARE(refused.status, 403);
        QCOMPARE(refused.json.value(QStringLiteral("code")).toString(),
                 QStringLiteral("user_disabled"));
        c.click("disableUser"); // now "Enable"
        QVERIFY(rows.wait(10'000));
        QCOMPARE(c.api.call("GET", QStringLiteral("/api/v1/quota"), c.api.bobToken).status, 200);
    }

    void editedLimitIsWhatTheNextRequestSees()
    {
        Console c;
        QSignalSpy rows(c.page.get(), &UsersPage::rowRefreshed);
        const QModelIndex cell = c.page->model()->index(c.page->model()->rowOf(c.api.alice.id),
                                                        UsersTableModel::UploadsLimit);
        c.page->view()->setCurrentIndex(cell);
        c.page->view()->edit(cell);
        auto *editor = c.page->view()->findChild<QLineEdit *>(QStringLiteral("limitEditor"));
        QVERIFY(editor);
        editor->setText(QStringLiteral("3"));
        QTest::keyClick(editor, Qt::Key_Return);
        QVERIFY(rows.wait(10'000));
        const Reply quota = c.api.call("GET", QStringLiteral("/api/v1/quota"), c.api.aliceToken);
        QCOMPARE(quota.status, 200);
        QCOMPARE(quota.json.value(QStringLiteral("quota"))
                     .toObject()
                     .value(QStringLiteral("uploads"))
                     .toObject()
                     .value(QStringLiteral("limit"))
                     .toInteger(),
                 3);
    }
};

QTEST_MAIN(tst_UsersApi)
#include "tst_usersapi.moc"
