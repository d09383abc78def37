#include "ui/users/userspage.h"

#include "quota/quotaledger.h"
#include "ui/users/adduserdialog.h"
#include "ui/users/backgroundtask.h"
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

// What a background step hands back to the GUI thread.
struct Outcome
{
    QString error; // empty: it worked
    QList<UserRow> rows;
    QString token;
    QString name;
};

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
    m_add->setObjectName(QStringLiteral("addUser"));
    m_disable->setObjectName(QStringLiteral("disableUser"));
    m_rotate->setObjectName(QStringLiteral("rotateToken"));
    m_reset->setObjectName(QStringLiteral("resetUsage"));
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"), this);
    refreshButton->setObjectName(QStringLiteral("refreshUsers"));
    m_message->setObjectName(QStringLiteral("usersMessage"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);

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

    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_add);
    buttons->addWidget(m_disable);
    buttons->addWidget(m_rotate);
    buttons->addWidget(m_reset);
    buttons->addStretch(1);
    buttons->addWidget(refreshButton);
    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(QStringLiteral("Users, tokens and monthly quotas. Double-click a "
                                            "limit to edit it; edits apply to the next upload."),
                             this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    layout->addLayout(buttons);
    layout->addWidget(m_body, 1);
    layout->addWidget(m_message);

    connect(m_add, &QPushButton::clicked, this, &UsersPage::addUser);
    connect(m_disable, &QPushButton::clicked, this, &UsersPage::toggleDisabled);
    connect(m_rotate, &QPushButton::clicked, this, &UsersPage::rotateToken);
    connect(m_reset, &QPushButton::clicked, this, &UsersPage::resetUsage);
    connect(refreshButton, &QPushButton::clicked, this, &UsersPage::refresh);
    connect(m_model, &UsersTableModel::limitEdited, this, &UsersPage::applyLimit);
    connect(m_model, &UsersTableModel::editRefused, this, &UsersPage::showMessage);
    connect(m_model, &QAbstractItemModel::modelReset, this, &UsersPage::updateActions);
    connect(m_model, &QAbstractItemModel::dataChanged, this, &UsersPage::updateActions);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &UsersPage::updateActions);
    updateActions();
}

void UsersPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    if (!m_loaded) {
        m_loaded = true;
        refresh();
    }
}

void UsersPage::refresh()
{
    m_loaded = true;
    ConsoleContext *context = &m_context;
    runInBackground(
        m_context.readers, this,
        [context] {
            Outcome outcome;
            auto users = context->store.users();
            if (!users) {
                outcome.error = describe(users.error());
                return outcome;
            }
            for (const User &user : std::as_const(*users)) {
                auto quota = context->quotas.status(user);
                if (!quota) {
                    outcome.error = describe(quota.error());
                    return outcome;
                }
                outcome.rows.append(UserRow{user, *quota});
            }
            return outcome;
        },
        [this](const Outcome &outcome) {
            if (!outcome.error.isEmpty()) {
                showMessage(QStringLiteral("Could not read the users: ") + outcome.error);
                return;
            }
            m_model->setRows(outcome.rows);
            m_body->setCurrentIndex(outcome.rows.isEmpty() ? 1 : 2);
            Q_EMIT refreshed();
        });
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
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        const QString name = dialog->name();
        const QString tier = dialog->tier();
        UserDirectory *users = &m_context.users;
        runInBackground(
            m_context.readers, this,
            [users, name, tier] {
                Outcome outcome;
                outcome.name = name;
                auto created = users->addUser(name, tier);
                if (!created)
                    outcome.error = describe(created.error());
                else
                    outcome.token = created->token;
                return outcome;
            },
            [this](const Outcome &outcome) {
                if (!outcome.error.isEmpty()) {
                    showMessage(QStringLiteral("Could not add the user: ") + outcome.error);
                    return;
                }
                showMessage(QStringLiteral("Added %1.").arg(outcome.name));
                showToken(QStringLiteral("The API token of %1:").arg(outcome.name), outcome.token);
                refresh();
            });
    });
    dialog->open();
}

void UsersPage::toggleDisabled()
{
    const UserRow *row = selectedRow();
    if (!row)
        return;
    const qint64 userId = row->user.id;
    const bool disable = !row->user.disabled;
    const QString name = row->user.name;
    UserDirectory *users = &m_context.users;
    runInBackground(
        m_context.readers, this,
        [users, userId, disable] {
            Outcome outcome;
            if (auto set = users->setDisabled(userId, disable); !set)
                outcome.error = describe(set.error());
            return outcome;
        },
        [this, userId, disable, name](const Outcome &outcome) {
            if (!outcome.error.isEmpty()) {
                showMessage(QStringLiteral("Could not change %1: %2").arg(name, outcome.error));
                return;
            }
            refreshRow(userId, disable ? QStringLiteral("Disabled %1: their token is refused "
                                                        "from now on.")
                                             .arg(name)
                                       : QStringLiteral("Enabled %1.").arg(name));
        });
}

void UsersPage::rotateToken()
{
    const UserRow *row = selectedRow();
    if (!row)
        return;
    const qint64 userId = row->user.id;
    const QString name = row->user.name;
    if (!m_confirm(QStringLiteral("Rotate token"),
                   QStringLiteral("Give %1 a new API token? The current one stops working at once "
                                  "and clients using it must be updated.")
                       .arg(name)))
        return;
    UserDirectory *users = &m_context.users;
    runInBackground(
        m_context.readers, this,
        [users, userId] {
            Outcome outcome;
            auto token = users->rotateToken(userId);
            if (!token)
                outcome.error = describe(token.error());
            else
                outcome.token = *token;
            return outcome;
        },
        [this, name](const Outcome &outcome) {
            if (!outcome.error.isEmpty()) {
                showMessage(QStringLiteral("Could not rotate the token of %1: %2")
                                .arg(name, outcome.error));
                return;
            }
            showMessage(
                QStringLiteral("Rotated the token of %1; the old one no longer works.").arg(name));
            showToken(QStringLiteral("The new API token of %1:").arg(name), outcome.token);
        });
}

void UsersPage::resetUsage()
{
    const UserRow *row = selectedRow();
    if (!row)
        return;
    const qint64 userId = row->user.id;
    const QString name = row->user.name;
    if (!m_confirm(QStringLiteral("Reset usage"),
                   QStringLiteral("Reset the usage of %1 for %2 (%3 uploads, %4)? They get their "
                                  "full monthly quota back.")
                       .arg(name, row->quota.period)
                       .arg(row->quota.uploadsUsed)
                       .arg(humanBytes(row->quota.bytesUsed))))
        return;
    QuotaLedger *quotas = &m_context.quotas;
    runInBackground(
        m_context.readers, this,
        [quotas, userId] {
            Outcome outcome;
            if (auto reset = quotas->resetUsage(userId); !reset)
                outcome.error = describe(reset.error());
            return outcome;
        },
        [this, userId, name](const Outcome &outcome) {
            if (!outcome.error.isEmpty()) {
                showMessage(
                    QStringLiteral("Could not reset the usage of %1: %2").arg(name, outcome.error));
                return;
            }
            refreshRow(userId, QStringLiteral("Reset this month's usage of %1.").arg(name));
        });
}

void UsersPage::applyLimit(qint64 userId, LimitKind kind, std::optional<qint64> limit)
{
    ConsoleContext *context = &m_context;
    runInBackground(
        m_context.readers, this,
        [context, userId, kind, limit] {
            Outcome outcome;
            // Only the edited limit changes; the other keeps its per-user value (or default).
            auto current = context->store.quotaLimits(userId);
            if (!current) {
                outcome.error = describe(current.error());
                return outcome;
            }
            std::optional<qint64> uploads = current->uploads;
            std::optional<qint64> bytes = current->bytes;
            (kind == LimitKind::Bytes ? bytes : uploads) = limit;
            if (auto set = context->quotas.setLimits(userId, uploads, bytes); !set)
                outcome.error = describe(set.error());
            return outcome;
        },
        [this, userId, kind](const Outcome &outcome) {
            if (!outcome.error.isEmpty()) {
                showMessage(QStringLiteral("Could not change the limit: ") + outcome.error);
                return;
            }
            refreshRow(userId,
                       kind == LimitKind::Bytes
                           ? QStringLiteral("Byte limit saved; the next upload uses it.")
                           : QStringLiteral("Upload limit saved; the next upload uses it."));
        });
}

void UsersPage::refreshRow(qint64 userId, const QString &message)
{
    ConsoleContext *context = &m_context;
    runInBackground(
        m_context.readers, this,
        [context, userId] {
            Outcome outcome;
            auto row = readRow(*context, userId);
            if (!row)
                outcome.error = describe(row.error());
            else
                outcome.rows.append(*row);
            return outcome;
        },
        [this, userId, message](const Outcome &outcome) {
            if (!outcome.error.isEmpty()) {
                showMessage(outcome.error);
                return;
            }
            m_model->updateRow(outcome.rows.first());
            m_body->setCurrentIndex(2);
            updateActions();
            showMessage(message);
            Q_EMIT rowRefreshed(userId);
        });
}

void UsersPage::showToken(const QString &heading, const QString &token)
{
    auto *dialog = new TokenDialog(heading, token, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->open();
}

} // namespace Ferry
