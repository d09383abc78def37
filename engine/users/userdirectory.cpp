#include "userdirectory.h"

#include "quota/tierpolicy.h"

#include <QCryptographicHash>
#include <QRandomGenerator>
#include <QRegularExpression>

namespace Ferry {

namespace {
const QString s_operatorName = QStringLiteral("operator");
}

UserDirectory::UserDirectory(UserStore &store, const Clock &clock) : m_store(store), m_clock(clock)
{}

QStringList UserDirectory::tiers()
{
    return tierNames();
}

Result<void> UserDirectory::validateName(const QString &name)
{
    static const QRegularExpression pattern(
        QRegularExpression::anchoredPattern(QStringLiteral("[A-Za-z0-9_.-]{1,64}")));
    if (!pattern.match(name).hasMatch()) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("'%1' is not a valid user name.").arg(name),
                         QStringLiteral("Use 1 to 64 letters, digits, '_', '.' or '-'."));
    }
    return {};
}

QString UserDirectory::generateToken()
{
    QByteArray bytes(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()),
                                          bytes.size() / 4);
    return QStringLiteral("fy_") +
           QString::fromLatin1(
               bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

QByteArray UserDirectory::hashToken(const QString &token)
{
    return QCryptographicHash::hash(token.toUtf8(), QCryptographicHash::Sha256);
}

Result<UserDirectory::NewUser> UserDirectory::addUser(const QString &name, const QString &tier)
{
    if (auto valid = validateName(name); !valid)
        return valid.error();
    if (!tiers().contains(tier)) {
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("Unknown tier '%1'.").arg(tier),
                         QStringLiteral("Use one of: %1.").arg(tiers().join(u", ")));
    }
    const QString token = generateToken();
    auto user = m_store.createUser(name, tier, hashToken(token), m_clock.nowMs());
    if (!user)
        return user.error();
    return NewUser{*user, token};
}

Result<User> UserDirectory::findByName(const QString &name)
{
    auto user = m_store.userByName(name);
    if (!user)
        return user.error();
    if (!user->has_value()) {
        return makeError(ErrorCode::NotFound, QStringLiteral("No user named '%1'.").arg(name),
                         QStringLiteral("Create it with: ferry user add %1").arg(name));
    }
    return **user;
}

Result<User> UserDirectory::authenticate(const QString &token)
{
    // The lookup is by hash, so timing reveals nothing about the token itself.
    auto user = m_store.userByTokenHash(hashToken(token));
    if (!user)
        return user.error();
    if (!user->has_value())
        return makeError(ErrorCode::NotFound, QStringLiteral("Unknown token."));
    return **user;
}

Result<User> UserDirectory::operatorUser()
{
    auto user = m_store.userByName(s_operatorName);
    if (!user)
        return user.error();
    if (user->has_value())
        return **user;
    auto created = addUser(s_operatorName);
    if (!created) {
        if (created.error().code == ErrorCode::Conflict) // created concurrently
            return findByName(s_operatorName);
        return created.error();
    }
    return created->user;
}

Result<QString> UserDirectory::rotateToken(qint64 userId)
{
    const QString token = generateToken();
    if (auto set = m_store.setUserTokenHash(userId, hashToken(token)); !set)
        return set.error();
    m_generation.fetch_add(1);
    return token;
}

Result<void> UserDirectory::setDisabled(qint64 userId, bool disabled)
{
    if (auto set = m_store.setUserDisabled(userId, disabled); !set)
        return set;
    m_generation.fetch_add(1);
    return {};
}

} // namespace Ferry
