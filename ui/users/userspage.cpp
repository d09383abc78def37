#include "ui/users/userspage.h"

#include "quota/quotaledger.h"
#include "ui/runonpool.h"
#include "ui/users/adduserdialog.h"
#include "ui/users/limitdelegate.h"
#include "ui/users/tokendialog.h"
#include "ui/users/userstablemodel.h"
#include "users/userdirectory.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QStackedWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace Ferry {

namespace {

// Every user with this month's quota: on the pool, never on the GUI thread.
Result<QList<UserRow>> readRows(ConsoleContext &context)
{
    auto users = context.store.users();
    if (!users)
        return users.error();
    QList<UserRow> rows;
    for (const User &user : std::as_const(*users)) {
        auto quota = context.quotas.status(user);
        if (!quota)
            return quota.error();
        rows.append(UserRow{user, *quota});
    }
    return rows;
}

Result<UserRow> readRow(ConsoleContext &context, qint64 userId)
{
    auto user = context.store.userById(userId);
    if (!user)
        return user.error();
    if (!user->has_value())
        return makeError(ErrorCode::NotFound, QStringLiteral("The user no longer exists."));
    auto quota = context.quotas.status(**user);
    if (!quota)
        return quota.error();
    return UserRow{**user, *quota};
}

QString describe(const Error &error)
{
    return error.hint.isEmpty() ? error.message : error.message + u' ' + error.hint;
}

} // namespace

UsersPage::UsersPage(ConsoleContext &context, QWidget *parent)
    : QWidget(parent)
    , m_context(context)
    , m_model(new UsersTableModel(this))
    , m_body(new QStackedWidget(this))
    , m_view(new QTableView(this))
    , m_message(new QLabel(this))
    , m_add(new QPushButton(QStringLiteral("Add user…"), this))
    , m_disable(new QPushButton(QStringLiteral("Disable"), this))
    , m_rotate(new QPushButton(QStringLiteral("Rotate token…"), this))
    , m_reset(new QPushButton(QStringLiteral("Reset usage…"), this))
{
    setObjectName(QStringLiteral("userspage"));
    m_confirm = [this](const QString &title, const QString &question) {
        return QMessageBox::question(this, title, question) == QMessageBox::Yes;
    };
    auto *buttons = buildButtons();
    m_message->setObjectName(QStringLiteral("usersMessage"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    buildBody();
    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(QStringLiteral("Users, tokens and monthly quotas. Double-click a "
                                            "limit to edit it; edits apply to the next upload."),
                             this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    layout->addLayout(buttons);
    layout->addWidget(m_body, 1);
    layout->addWidget(m_message);

    connect(m_model, &UsersTableModel::limitEdited, this, &UsersPage::applyLimit);
    connect(m_model, &UsersTableModel::editRefused, this, &UsersPage::showMessage);
    connect(m_model, &QAbstractItemModel::modelReset, this, &UsersPage::updateActions);
    connect(m_model, &QAbstractItemModel::dataChanged, this, &UsersPage::updateActions);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &UsersPage::updateActions);
    updateActions();
}

// Add, disable or enable, rotate, reset; and Refresh, apart.
QHBoxLayout *UsersPage::buildButtons()
{
    m_add->setObjectName(QStringLiteral("addUser"));
    m_disable->setObjectName(QStringLiteral("disableUser"));
    m_rotate->setObjectName(QStringLiteral("rotateToken"));
    m_reset->setObjectName(QStringLiteral("resetUsage"));
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"), this);
    refreshButton->setObjectName(QStringLiteral("refreshUsers"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_add);
    buttons->addWidget(m_disable);
    buttons->addWidget(m_rotate);
    buttons->addWidget(m_reset);
    buttons->addStretch(1);
    buttons->addWidget(refreshButton);
    connect(m_add, &QPushButton::clicked, this, &UsersPage::addUser);
    connect(m_disable, &QPushButton::clicked, this, &UsersPage::toggleDisabled);
    connect(m_rotate, &QPushButton::clicked, this, &UsersPage::rotateToken);
    connect(m_reset, &QPushButton::clicked, this, &UsersPage::resetUsage);
    connect(refreshButton, &QPushButton::clicked, this, &UsersPage::refresh);
    return buttons;
}

// The users' table with its inline limit editor; "loading" and "no users yet" in its place.
void UsersPage::buildBody()
{
    m_view->setObjectName(QStringLiteral("usersTable"));
    m_view->setModel(m_model);
    m_view->setItemDelegate(new LimitDelegate(m_view));
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                            QAbstractItemView::SelectedClicked);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setStretchLastSection(true);

    auto *empty = new QLabel(
        QStringLiteral("No users yet. Click \"Add user…\" (or run `ferry user add NAME`) to create "
                       "one: each user gets an API token for uploads and a monthly quota from "
                       "their tier, which you can then edit here."),
        this);
    empty->setObjectName(QStringLiteral("usersEmpty"));
    empty->setWordWrap(true);
    empty->setAlignment(Qt::AlignCenter);
    auto *loading = new QLabel(QStringLiteral("Loading users…"), this);
    loading->setAlignment(Qt::AlignCenter);
    m_body->setObjectName(QStringLiteral("usersBody"));
    m_body->addWidget(loading); // 0
    m_body->addWidget(empty);   // 1
    m_body->addWidget(m_view);  // 2
}

void UsersPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    if (!m_loaded) {
        m_loaded = true;
        refresh();
    }
}

QCoro::Task<> UsersPage::refresh()
{
    m_loaded = true;
    ConsoleContext *context = &m_context;
    auto reading = runOnPool(this, m_context.readers, [context] { return readRows(*context); });
    const auto read = co_await reading;
    if (!read)
        co_return; // the page is gone
    const Result<QList<UserRow>> &rows = *read;
    if (!rows) {
        showMessage(QStringLiteral("Could not read the users: ") + describe(rows.error()));
        co_return;
    }
    m_model->setRows(*rows);
    m_body->setCurrentIndex(rows->isEmpty() ? 1 : 2);
    Q_EMIT refreshed();
}

const UserRow *UsersPage::selectedRow() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? nullptr : m_model->rowAt(rows.first().row());
}

void UsersPage::updateActions()
{
    const UserRow *row = selectedRow();
    m_disable->setEnabled(row);
    m_rotate->setEnabled(row);
    m_reset->setEnabled(row);
    m_disable->setText(row && row->user.disabled ? QStringLiteral("Enable")
                                                 : QStringLiteral("Disable"));
}

void UsersPage::showMessage(const QString &message)
{
    m_message->setText(message);
    Q_EMIT messageShown(message);
}

void UsersPage::addUser()
{
    auto *dialog = new AddUserDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this,
            [this, dialog] { createUser(dialog->name(), dialog->tier()); });
    dialog->open();
}

QCoro::Task<> UsersPage::createUser(QString name, QString tier)
{
    UserDirectory *users = &m_context.users;
    auto adding = runOnPool(this, m_context.readers,
                            [users, name, tier] { return users->addUser(name, tier); });
    const auto added = co_await adding;
    if (!added)
        co_return; // the page is gone
    const Result<UserDirectory::NewUser> &created = *added;
    if (!created) {
        showMessage(QStringLiteral("Could not add the user: ") + describe(created.error()));
        co_return;
    }
    showMessage(QStringLiteral("Added %1.").arg(name));
    showToken(QStringLiteral("The API token of %1:").arg(name), created->token);
    refresh();
}

QCoro::Task<> UsersPage::toggleDisabled()
{
    const UserRow *row = selectedRow();
    if (!row)
        co_return;
    const qint64 userId = row->user.id;
    const bool disable = !row->user.disabled;
    const QString name = row->user.name;
    UserDirectory *users = &m_context.users;
    auto writing = runOnPool(this, m_context.readers, [users, userId, disable] {
        return users->setDisabled(userId, disable);
    });
    const auto set = co_await writing;
    if (!set)
        co_return; // the page is gone
    if (!*set) {
        showMessage(QStringLiteral("Could not change %1: %2").arg(name, describe(set->error())));
        co_return;
    }
    refreshRow(userId,
               disable
                   ? QStringLiteral("Disabled %1: their token is refused from now on.").arg(name)
                   : QStringLiteral("Enabled %1.").arg(name));
}

QCoro::Task<> UsersPage::rotateToken()
{
    const UserRow *row = selectedRow();
    if (!row)
        co_return;
    const qint64 userId = row->user.id;
    const QString name = row->user.name;
    if (!m_confirm(QStringLiteral("Rotate token"),
                   QStringLiteral("Give %1 a new API token? The current one stops working at once "
                                  "and clients using it must be updated.")
                       .arg(name)))
        co_return;
    UserDirectory *users = &m_context.users;
    auto rotating =
        runOnPool(this, m_context.readers, [users, userId] { return users->rotateToken(userId); });
    const auto token = co_await rotating;
    if (!token)
        co_return; // the page is gone
    if (!*token) {
        showMessage(QStringLiteral("Could not rotate the token of %1: %2")
                        .arg(name, describe(token->error())));
        co_return;
    }
    showMessage(QStringLiteral("Rotated the token of %1; the old one no longer works.").arg(name));
    showToken(QStringLiteral("The new API token of %1:").arg(name), **token);
}

QCoro::Task<> UsersPage::resetUsage()
{
    const UserRow *row = selectedRow();
    if (!row)
        co_return;
    const qint64 userId = row->user.id;
    const QString name = row->user.name;
    if (!m_confirm(QStringLiteral("Reset usage"),
                   QStringLiteral("Reset the usage of %1 for %2 (%3 uploads, %4)? They get their "
                                  "full monthly quota back.")
                       .arg(name, row->quota.period)
                       .arg(row->quota.uploadsUsed)
                       .arg(humanBytes(row->quota.bytesUsed))))
        co_return;
    QuotaLedger *quotas = &m_context.quotas;
    auto resetting =
        runOnPool(this, m_context.readers, [quotas, userId] { return quotas->resetUsage(userId); });
    const auto reset = co_await resetting;
    if (!reset)
        co_return; // the page is gone
    if (!*reset) {
        showMessage(QStringLiteral("Could not reset the usage of %1: %2")
                        .arg(name, describe(reset->error())));
        co_return;
    }
    refreshRow(userId, QStringLiteral("Reset this month's usage of %1.").arg(name));
}

QCoro::Task<> UsersPage::applyLimit(qint64 userId, LimitKind kind, std::optional<qint64> limit)
{
    ConsoleContext *context = &m_context;
    auto writing =
        runOnPool(this, m_context.readers, [context, userId, kind, limit]() -> Result<void> {
            // Only the edited limit changes; the other keeps its per-user value (or default).
            auto current = context->store.quotaLimits(userId);
            if (!current)
                return current.error();
            std::optional<qint64> uploads = current->uploads;
            std::optional<qint64> bytes = current->bytes;
            (kind == LimitKind::Bytes ? bytes : uploads) = limit;
            return context->quotas.setLimits(userId, uploads, bytes);
        });
    const auto set = co_await writing;
    if (!set)
        co_return; // the page is gone
    if (!*set) {
        showMessage(QStringLiteral("Could not change the limit: ") + describe(set->error()));
        co_return;
    }
    refreshRow(userId, kind == LimitKind::Bytes
                           ? QStringLiteral("Byte limit saved; the next upload uses it.")
                           : QStringLiteral("Upload limit saved; the next upload uses it."));
}

QCoro::Task<> UsersPage::refreshRow(qint64 userId, QString message)
{
    ConsoleContext *context = &m_context;
    auto reading =
        runOnPool(this, m_context.readers, [context, userId] { return readRow(*context, userId); });
    const auto row = co_await reading;
    if (!row)
        co_return; // the page is gone
    if (!*row) {
        showMessage(describe(row->error()));
        co_return;
    }
    m_model->updateRow(**row);
    m_body->setCurrentIndex(2);
    updateActions();
    showMessage(message);
    Q_EMIT rowRefreshed(userId);
}

void UsersPage::showToken(const QString &heading, const QString &token)
{
    auto *dialog = new TokenDialog(heading, token, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->open();
}

} // namespace Ferry
