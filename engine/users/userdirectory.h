#pragma once

#include "core/clock.h"
#include "store/userstore.h"

#include <atomic>

namespace Ferry {

// Users and their API tokens. A token is shown once at creation; only its SHA-256 is stored.
class UserDirectory final
{
public:
    UserDirectory(UserStore &store, const Clock &clock);

    struct NewUser
    {
        User user;
        QString token; // the only time it exists in clear
    };

    static QStringList tiers();
    static Result<void> validateName(const QString &name);
    Result<NewUser> addUser(const QString &name, const QString &tier = QStringLiteral("standard"));
    Result<User> findByName(const QString &name);
    // The user a bearer token belongs to; NotFound for an unknown token.
    Result<User> authenticate(const QString &token);
    // A new token for the user (shown once); the old one stops working.
    Result<QString> rotateToken(qint64 userId);
    // A disabled user's token is refused (403) until they are enabled again.
    Result<void> setDisabled(qint64 userId, bool disabled);
    // Changes each time a token is rotated or a user disabled or enabled here, so caches of
    // authenticated tokens (ApiHandler) know to forget them at once.
    quint64 generation() const { return m_generation.load(); }
    // The user the console and shell commands act as when no user is named.
    Result<User> operatorUser();

    static QString generateToken();
    static QByteArray hashToken(const QString &token);

private:
    UserStore &m_store;
    const Clock &m_clock;
    std::atomic<quint64> m_generation{0};
};

} // namespace Ferry
