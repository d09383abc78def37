#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/users/adduserdialog.h"
#include "ui/users/limitvalidator.h"
#include "ui/users/tokendialog.h"
#include "ui/users/userspage.h"
#include "ui/users/userstablemodel.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStackedWidget>
#include <QTableView>
#include <QTest>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

// The Users and quotas page over a real SQLite store: each test drives the page's own actions
// (buttons, dialogs, the table's inline editor) and then asks the engine what changed.
class tst_UsersPage : public QObject
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
            context = std::make_unique<ConsoleContext>(
                ConsoleContext{*t.store, *queue, dispatcher.get(), *users, *quotas, nullptr,
                               nullptr, QString(), &readers});
            page = std::make_unique<UsersPage>(*context);
            page->setConfirmHook([this](const QString &, const QString &question) {
                questions.append(question);
                return confirm;
            });
            page->resize(1000, 500);
        }
        ~Console()
        {
            page.reset();
            readers.waitForDone();
        }
        // Shows the page and waits for its first read of the store.
        bool show()
        {
            QSignalSpy refreshed(page.get(), &UsersPage::refreshed);
            page->show();
            return refreshed.wait(10'000) || refreshed.count() > 0;
        }
        bool refresh()
        {
            QSignalSpy refreshed(page.get(), &UsersPage::refreshed);
            page->refresh();
            return refreshed.wait(10'000);
        }
        int rowOf(qint64 userId) { return page->model()->rowOf(userId); }
        void select(qint64 userId) { page->view()->selectRow(rowOf(userId)); }
        template<typename T>
        T *find(const char *name)
        {
            return page->findChild<T *>(QLatin1String(name));
        }
        QuotaStatus status(qint64 userId)
        {
            auto user = t.store->userById(userId);
            auto status = quotas->status(**user);
            return *status;
        }
        // The token dialog the page opened last; waits for it.
        QString shownToken(int count)
        {
            if (!waitFor([&] { return page->findChildren<TokenDialog *>().size() >= count; },
                         10'000))
                return QString();
            return page->findChildren<TokenDialog *>().at(count - 1)->token();
        }

        TempStore t;
        SystemClock clock;
        HandlerRegistry handlers;
        QThreadPool readers;
        std::unique_ptr<JobQueue> queue;
        std::unique_ptr<Dispatcher> dispatcher;
        std::unique_ptr<UserDirectory> users;
        std::unique_ptr<QuotaLedger> quotas;
        std::unique_ptr<ConsoleContext> context;
        std::unique_ptr<UsersPage> page;
        QStringList questions;
        bool confirm = true;
    };

    // Edits a limit cell through the view's delegate, as a double-click and typing would.
    static QLineEdit *openEditor(Console &c, qint64 userId, int column)
    {
        const QModelIndex index = c.page->model()->index(c.rowOf(userId), column);
        c.page->view()->setCurrentIndex(index);
        c.page->view()->edit(index);
        return c.page->view()->findChild<QLineEdit *>(QStringLiteral("limitEditor"));
    }

private Q_SLOTS:
    void emptyStateSaysWhatToDo()
    {
        Console c;
        QVERIFY(c.show());
        auto *body = c.find<QStackedWidget>("usersBody");
        QCOMPARE(body->currentIndex(), 1);
        auto *empty = c.find<QLabel>("usersEmpty");
        QVERIFY(empty->text().contains(u"Add user"));
        QVERIFY(empty->text().contains(u"ferry user add"));
    }

    void addUserShowsTheTokenOnce()
    {
        Console c;
        QVERIFY(c.show());
        c.find<QPushButton>("addUser")->click();
        auto *dialog = c.page->findChild<AddUserDialog *>();
        QVERIFY(dialog);
        auto *name = dialog->findChild<QLineEdit *>(QStringLiteral("name"));
        auto *ok = dialog->findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok);
        name->setText(QStringLiteral("not a name!"));
        QVERIFY(!ok->isEnabled()); // validated like UserDirectory::validateName
        QVERIFY(!dialog->findChild<QLabel *>(QStringLiteral("problem"))->text().isEmpty());
        name->setText(QStringLiteral("alice"));
        QVERIFY(ok->isEnabled());
        dialog->findChild<QComboBox *>(QStringLiteral("tier"))
            ->setCurrentText(UserDirectory::tiers().constLast());
        ok->click();

        const QString token = c.shownToken(1);
        QVERIFY(!token.isEmpty());
        auto user = c.users->authenticate(token);
        QVERIFY2(user.ok(), "the token shown authenticates");
        QCOMPARE(user->name, QStringLiteral("alice"));
        QCOMPARE(user->tier, UserDirectory::tiers().constLast());
        QTRY_VERIFY(c.rowOf(user->id) >= 0);
        QCOMPARE(c.find<QStackedWidget>("usersBody")->currentIndex(), 2);
        QVERIFY(
            c.page->findChild<TokenDialog *>()->findChildren<QLabel *>().last()->text().contains(
                u"will not be shown again"));
    }

    void addingAnExistingNameSaysSo()
    {
        Console c;
        c.t.addUser(QStringLiteral("alice"));
        QVERIFY(c.show());
        QSignalSpy messages(c.page.get(), &UsersPage::messageShown);
        c.find<QPushButton>("addUser")->click();
        auto *dialog = c.page->findChild<AddUserDialog *>();
        dialog->findChild<QLineEdit *>(QStringLiteral("name"))->setText(QStringLiteral("alice"));
        dialog->accept();
        QVERIFY(messages.wait(10'000));
        QVERIFY(messages.constLast().at(0).toString().startsWith(u"Could not add the user"));
        QVERIFY(c.page->findChildren<TokenDialog *>().isEmpty());
    }

    void editLimitsInline()
    {
        Console c;
        const qint64 bob = c.t.addUser(QStringLiteral("bob"));
        QVERIFY(c.show());
        QSignalSpy refreshedRows(c.page.get(), &UsersPage::rowRefreshed);

        QLineEdit *editor = openEditor(c, bob, UsersTableModel::UploadsLimit);
        QVERIFY(editor);
        editor->setText(QStringLiteral("12"));
        QTest::keyClick(editor, Qt::Key_Return);
        QVERIFY(refreshedRows.wait(10'000));
        QuotaStatus status = c.status(bob);
        QCOMPARE(status.uploadsLimit, 12);
        QVERIFY(!status.uploadsLimitIsDefault);
        QVERIFY(status.bytesLimitIsDefault); // the other limit is left alone
        const QModelIndex uploads =
            c.page->model()->index(c.rowOf(bob), UsersTableModel::UploadsLimit);
        QCOMPARE(uploads.data().toString(), QStringLiteral("12"));

        editor = openEditor(c, bob, UsersTableModel::BytesLimit);
        QVERIFY(editor);
        editor->setText(QStringLiteral("2G"));
        QTest::keyClick(editor, Qt::Key_Return);
        QVERIFY(refreshedRows.wait(10'000));
        status = c.status(bob);
        QCOMPARE(status.bytesLimit, qint64(2) << 30);
        QCOMPARE(status.uploadsLimit, 12);
        const QModelIndex bytes = c.page->model()->index(c.rowOf(bob), UsersTableModel::BytesLimit);
        QCOMPARE(bytes.data().toString(), QStringLiteral("2 GiB"));
        QVERIFY(bytes.data(Qt::ToolTipRole).toString().contains(u"2,147,483,648 bytes"));

        editor = openEditor(c, bob, UsersTableModel::UploadsLimit);
        editor->setText(QStringLiteral("unlimited"));
        QTest::keyClick(editor, Qt::Key_Return);
        QVERIFY(refreshedRows.wait(10'000));
        QCOMPARE(c.status(bob).uploadsLimit, -1);

        editor = openEditor(c, bob, UsersTableModel::UploadsLimit);
        editor->setText(QStringLiteral("default"));
        QTest::keyClick(editor, Qt::Key_Return);
        QVERIFY(refreshedRows.wait(10'000));
        QVERIFY(c.status(bob).uploadsLimitIsDefault);
    }

    void invalidLimitsAreRefused()
    {
        Console c;
        const qint64 bob = c.t.addUser(QStringLiteral("bob"));
        QVERIFY(c.show());
        const QuotaStatus before = c.status(bob);
        const QModelIndex cell =
            c.page->model()->index(c.rowOf(bob), UsersTableModel::UploadsLimit);
        const QString shown = cell.data().toString();

        // The editor cannot even take a minus sign or letters...
        QLineEdit *editor = openEditor(c, bob, UsersTableModel::UploadsLimit);
        QVERIFY(editor);
        editor->clear();
        QTest::keyClicks(editor, QStringLiteral("-x"));
        QCOMPARE(editor->text(), QString());
        // ...and what is set into it anyway is not committed.
        editor->setText(QStringLiteral("-5"));
        QTest::keyClick(editor, Qt::Key_Return);
        QTest::qWait(50);
        QCOMPARE(cell.data().toString(), shown);

        // The model refuses and says why.
        QSignalSpy messages(c.page.get(), &UsersPage::messageShown);
        QSignalSpy edits(c.page->model(), &UsersTableModel::limitEdited);
        QVERIFY(!c.page->model()->setData(cell, QStringLiteral("abc"), Qt::EditRole));
        QVERIFY(!c.page->model()->setData(cell, QStringLiteral("-1"), Qt::EditRole));
        QVERIFY(!c.page->model()->setData(
            c.page->model()->index(c.rowOf(bob), UsersTableModel::UploadsLimit),
            QStringLiteral("10G"), Qt::EditRole)); // suffixes are for bytes only
        QCOMPARE(edits.count(), 0);
        QCOMPARE(messages.count(), 3);
        QVERIFY(messages.at(0).at(0).toString().contains(u"is not a limit"));
        QCOMPARE(cell.data().toString(), shown);

        readersIdle(c);
        const QuotaStatus after = c.status(bob);
        QCOMPARE(after.uploadsLimit, before.uploadsLimit);
        QVERIFY(after.uploadsLimitIsDefault);
        QVERIFY(after.bytesLimitIsDefault);
    }

    void validatorStates_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<bool>("bytes");
        QTest::addColumn<int>("state");
        const int ok = QValidator::Acceptable, partial = QValidator::Intermediate,
                  bad = QValidator::Invalid;
        QTest::newRow("number") << QStringLiteral("100") << false << ok;
        QTest::newRow("zero") << QStringLiteral("0") << false << ok;
        QTest::newRow("unlimited") << QStringLiteral("unlimited") << false << ok;
        QTest::newRow("default") << QStringLiteral("default") << true << ok;
        QTest::newRow("prefix") << QStringLiteral("unl") << false << partial;
        QTest::newRow("empty") << QString() << true << partial;
        QTest::newRow("negative") << QStringLiteral("-5") << false << bad;
        QTest::newRow("letters") << QStringLiteral("abc") << true << bad;
        QTest::newRow("suffix bytes") << QStringLiteral("10G") << true << ok;
        QTest::newRow("suffix uploads") << QStringLiteral("10G") << false << bad;
        QTest::newRow("fraction") << QStringLiteral("1.5") << false << bad;
    }
    void validatorStates()
    {
        QFETCH(QString, input);
        QFETCH(bool, bytes);
        QFETCH(int, state);
        LimitValidator validator(bytes ? LimitKind::Bytes : LimitKind::Uploads);
        int pos = 0;
        QCOMPARE(int(validator.validate(input, pos)), state);
    }

    void disableAndEnable()
    {
        Console c;
        const qint64 bob = c.t.addUser(QStringLiteral("bob"));
        QVERIFY(c.show());
        QSignalSpy refreshedRows(c.page.get(), &UsersPage::rowRefreshed);
        auto *button = c.find<QPushButton>("disableUser");
        QVERIFY(!button->isEnabled()); // nothing selected
        c.select(bob);
        QVERIFY(button->isEnabled());
        QCOMPARE(button->text(), QStringLiteral("Disable"));
        button->click();
        QVERIFY(refreshedRows.wait(10'000));
        QVERIFY((*c.t.store->userById(bob))->disabled);
        QCOMPARE(c.page->model()->index(c.rowOf(bob), UsersTableModel::Status).data().toString(),
                 QStringLiteral("disabled"));
        QCOMPARE(button->text(), QStringLiteral("Enable"));
        button->click();
        QVERIFY(refreshedRows.wait(10'000));
        QVERIFY(!(*c.t.store->userById(bob))->disabled);
    }

    void rotateToken()
    {
        Console c;
        auto created = c.users->addUser(QStringLiteral("carol"));
        QVERIFY(created.ok());
        const QString oldToken = created->token;
        QVERIFY(c.show());
        c.select(created->user.id);

        c.confirm = false; // the operator says no: nothing changes
        c.find<QPushButton>("rotateToken")->click();
        QCOMPARE(c.questions.size(), 1);
        QVERIFY(c.questions.constLast().contains(u"carol"));
        readersIdle(c);
        QVERIFY(c.users->authenticate(oldToken).ok());

        c.confirm = true;
        c.find<QPushButton>("rotateToken")->click();
        const QString newToken = c.shownToken(1);
        QVERIFY(!newToken.isEmpty());
        QVERIFY(newToken != oldToken);
        QCOMPARE(c.users->authenticate(oldToken).error().code, ErrorCode::NotFound);
        auto user = c.users->authenticate(newToken);
        QVERIFY(user.ok());
        QCOMPARE(user->id, created->user.id);
    }

    void resetUsageAfterConfirmation()
    {
        Console c;
        const qint64 dave = c.t.addUser(QStringLiteral("dave"));
        auto reserved = c.quotas->reserve(dave, 1000);
        QVERIFY(reserved.ok() && reserved->granted);
        QVERIFY(c.quotas->settle(reserved->reservation, 1000).ok());
        QCOMPARE(c.status(dave).uploadsUsed, 1);
        QVERIFY(c.show());
        c.select(dave);
        QSignalSpy refreshedRows(c.page.get(), &UsersPage::rowRefreshed);

        c.confirm = false;
        c.find<QPushButton>("resetUsage")->click();
        readersIdle(c);
        QCOMPARE(c.status(dave).uploadsUsed, 1);

        c.confirm = true;
        c.find<QPushButton>("resetUsage")->click();
        QVERIFY(refreshedRows.wait(10'000));
        const QString question = c.questions.constLast();
        QVERIFY(question.contains(u"dave"));
        QVERIFY(question.contains(c.status(dave).period)); // names the period it resets
        QCOMPARE(c.status(dave).uploadsUsed, 0);
        QCOMPARE(c.status(dave).bytesUsed, 0);
        QCOMPARE(
            c.page->model()->index(c.rowOf(dave), UsersTableModel::UploadsUsed).data().toString(),
            QStringLiteral("0"));
    }

private:
    static void readersIdle(Console &c)
    {
        c.readers.waitForDone();
        QCoreApplication::processEvents();
    }
};

QTEST_MAIN(tst_UsersPage)
#include "tst_userspage.moc"
