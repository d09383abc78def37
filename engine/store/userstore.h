#pragma once
// The store's users: accounts and their token hashes (engine/users/userdirectory.h).

#include "core/error.h"
#include "store/records.h"

namespace Ferry {

class UserStore
{
public:
    virtual ~UserStore() = default;

    virtual Result<User> createUser(const QString &name,
                                    const QString &tier,
                                    const QByteArray &tokenHash,
                                    qint64 now) = 0;
    virtual Result<std::optional<User>> userByName(const QString &name) = 0;
    virtual Result<std::optional<User>> userByTokenHash(const QByteArray &tokenHash) = 0;
    virtual Result<QList<User>> users() = 0;
    virtual Result<void> setUserDisabled(qint64 userId, bool disabled) = 0;
    virtual Result<std::optional<User>> userById(qint64 userId) = 0;
    // A new token for the user (its hash); the old one stops working.
    virtual Result<void> setUserTokenHash(qint64 userId, const QByteArray &tokenHash) = 0;

protected:
    UserStore() = default;
    Q_DISABLE_COPY_MOVE(UserStore)
};

} // namespace Ferry
