#pragma once

#include "quota/limitparser.h"
#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QWidget>

#include <functional>
#include <optional>

class QHBoxLayout;
class QLabel;
class QPushButton;
class QStackedWidget;
class QTableView;

namespace Ferry {

class UsersTableModel;
struct UserRow;

// Users, tokens and monthly quotas: add a user (token shown once), disable or enable, rotate a
// token, edit limits inline, reset this month's usage. Every store read and write runs on the
// context's reader pool; results are applied here, on the GUI thread. Quota edits reach the
// store at once, so the next upload is checked against them.
class UsersPage final : public QWidget
{
    Q_OBJECT
public:
    // Asks the operator a yes/no question; tests replace it to answer without a dialog.
    using ConfirmHook = std::function<bool(const QString &title, const QString &question)>;

    explicit UsersPage(ConsoleContext &context, QWidget *parent = nullptr);

    void setConfirmHook(ConfirmHook hook) { m_confirm = std::move(hook); }
    UsersTableModel *model() const { return m_model; }
    QTableView *view() const { return m_view; }

    // Coroutines but addUser: store reads and writes run on the context's reader pool.
    QCoro::Task<> refresh();
    void addUser();
    QCoro::Task<> toggleDisabled();
    QCoro::Task<> rotateToken();
    QCoro::Task<> resetUsage();

Q_SIGNALS:
    void refreshed(); // the table shows the store's users
    void rowRefreshed(qint64 userId);
    void messageShown(const QString &message);

protected:
    void showEvent(QShowEvent *event) override;

private:
    QHBoxLayout *buildButtons();
    void buildBody();
    const UserRow *selectedRow() const;
    void updateActions();
    void showMessage(const QString &message);
    QCoro::Task<> createUser(QString name, QString tier);
    QCoro::Task<> applyLimit(qint64 userId, LimitKind kind, std::optional<qint64> limit);
    // Re-reads one user's row after a change.
    QCoro::Task<> refreshRow(qint64 userId, QString message);
    void showToken(const QString &heading, const QString &token);

    ConsoleContext &m_context;
    ConfirmHook m_confirm;
    UsersTableModel *m_model;
    QStackedWidget *m_body;
    QTableView *m_view;
    QLabel *m_message;
    QPushButton *m_add;
    QPushButton *m_disable;
    QPushButton *m_rotate;
    QPushButton *m_reset;
    bool m_loaded = false;
};

} // namespace Ferry
