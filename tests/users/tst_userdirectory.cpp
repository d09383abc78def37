// UserDirectory (engine/users/userdirectory.h): users and their API tokens over the store's user
// role. Until now it was only exercised through the API and the command line; this is its own
// contract, on SQLite and PostgreSQL (the store holds the users and the token hashes).
#include "testsupport.h"
#include "users/userdirectory.h"

#include <QRegularExpression>
#include <QSet>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

class tst_UserDirectory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void namesAreCheckedBeforeTheStoreIsAsked_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("valid");
        QTest::newRow("letters") << QStringLiteral("alice") << true;
        QTest::newRow("every allowed kind") << QStringLiteral("A-z_0.9") << true;
        QTest::newRow("64 characters") << QString(64, u'a') << true;
        QTest::newRow("empty") << QString() << false;
        QTest::newRow("65 characters") << QString(65, u'a') << false;
        QTest::newRow("space") << QStringLiteral("ada lovelace") << false;
        QTest::newRow("slash") << QStringLiteral("a/b") << false;
        QTest::newRow("non-ASCII letter") << QStringLiteral("zo\u00eb") << false;
        QTest::newRow("newline at the end") << QStringLiteral("alice\n") << false;
    }
    void namesAreCheckedBeforeTheStoreIsAsked()
    {
        QFETCH(QString, name);
        QFETCH(bool, valid);
        // "alice\n" too: a pattern ending in '$' would let a final newline through.
        QCOMPARE(UserDirectory::validateName(name).ok(), valid);

        TempStore t;
        UserDirectory users(*t.store, t.clock);
        auto added = users.addUser(name);
        QCOMPARE(added.ok(), valid);
        if (!valid) {
            QCOMPARE(added.error().code, ErrorCode::InvalidArgument);
            // The hint says what a name may hold; nothing reached the store.
            QVERIFY(!added.error().hint.isEmpty());
            QVERIFY(t.store->users()->isEmpty());
        }
    }

    void addUserStoresTheHashNotTheToken()
    {
        TempStore t;
        t.clock.set(1'750'000'000'000);
        UserDirectory users(*t.store, t.clock);
        auto added = users.addUser(QStringLiteral("alice"), QStringLiteral("premium"));
        QVERIFY2(added.ok(), qPrintable(added.error().toString()));
        QVERIFY(added->user.id > 0);
        QCOMPARE(added->user.name, QStringLiteral("alice"));
        QCOMPARE(added->user.tier, QStringLiteral("premium"));
        QCOMPARE(added->user.disabled, false);
        QCOMPARE(added->user.createdAt, qint64(1'750'000'000'000));

        // "fy_" and 32 random bytes in unpadded base64url: 43 characters.
        static const QRegularExpression shape(QStringLiteral("^fy_[A-Za-z0-9_-]{43}$"));
        QVERIFY2(shape.match(added->token).hasMatch(), qPrintable(added->token));

        // The store finds the user by the token's SHA-256, and the token itself is not stored:
        // looking it up as if it were a hash finds nothing.
        const QByteArray hash = UserDirectory::hashToken(added->token);
        QCOMPARE(hash.size(), 32);
        auto byHash = t.store->userByTokenHash(hash);
        QVERIFY(byHash.ok() && byHash->has_value());
        QCOMPARE((*byHash)->id, added->user.id);
        auto byClearToken = t.store->userByTokenHash(added->token.toUtf8());
        QVERIFY(byClearToken.ok());
        QVERIFY(!byClearToken->has_value());
    }

    void tokensAreNotRepeated()
    {
        QSet<QString> seen;
        for (int i = 0; i < 200; ++i)
            seen.insert(UserDirectory::generateToken());
        QCOMPARE(seen.size(), 200);
    }

    void unknownTierIsRefusedWithTheKnownOnes()
    {
        TempStore t;
        UserDirectory users(*t.store, t.clock);
        auto added = users.addUser(QStringLiteral("alice"), QStringLiteral("gold"));
        QVERIFY(!added.ok());
        QCOMPARE(added.error().code, ErrorCode::InvalidArgument);
        for (const QString &tier : UserDirectory::tiers())
            QVERIFY2(added.error().hint.contains(tier), qPrintable(added.error().hint));
        QVERIFY(t.store->users()->isEmpty());
        QVERIFY(UserDirectory::tiers().contains(QStringLiteral("standard")));
        // The default tier is standard.
        QCOMPARE(users.addUser(QStringLiteral("bob"))->user.tier, QStringLiteral("standard"));
    }

    void aTakenNameIsAConflict()
    {
        TempStore t;
        UserDirectory users(*t.store, t.clock);
        auto first = users.addUser(QStringLiteral("alice"));
        QVERIFY(first.ok());
        auto second = users.addUser(QStringLiteral("alice"), QStringLiteral("free"));
        QVERIFY(!second.ok());
        QCOMPARE(second.error().code, ErrorCode::Conflict);
        // The first user and its token are untouched.
        QCOMPARE(users.authenticate(first->token)->tier, QStringLiteral("standard"));
        QCOMPARE(t.store->users()->size(), 1);
    }

    void findByNameSaysHowToCreateAMissingUser()
    {
        TempStore t;
        UserDirectory users(*t.store, t.clock);
        const qint64 id = users.addUser(QStringLiteral("alice"))->user.id;
        QCOMPARE(users.findByName(QStringLiteral("alice"))->id, id);
        auto missing = users.findByName(QStringLiteral("bob"));
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QCOMPARE(missing.error().hint, QStringLiteral("Create it with: ferry user add bob"));
    }

    void authenticateKnowsOnlyCurrentTokens()
    {
        TempStore t;
        UserDirectory users(*t.store, t.clock);
        auto alice = users.addUser(QStringLiteral("alice"));
        auto bob = users.addUser(QStringLiteral("bob"));
        QCOMPARE(users.authenticate(alice->token)->id, alice->user.id);
        QCOMPARE(users.authenticate(bob->token)->id, bob->user.id);
        const QStringList wrongTokens{QString(), UserDirectory::generateToken(),
                                      alice->token.left(20), alice->token + u'x'};
        for (const QString &wrong : wrongTokens) {
            auto refused = users.authenticate(wrong);
            QVERIFY(!refused.ok());
            QCOMPARE(refused.error().code, ErrorCode::NotFound);
        }
    }

    void rotatingATokenRetiresTheOldOne()
    {
        TempStore t;
        UserDirectory users(*t.store, t.clock);
        auto alice = users.addUser(QStringLiteral("alice"));
        auto bob = users.addUser(QStringLiteral("bob"));
        const quint64 before = users.generation();

        auto rotated = users.rotateToken(alice->user.id);
        QVERIFY2(rotated.ok(), qPrintable(rotated.error().toString()));
        QVERIFY(*rotated != alice->token);
        QCOMPARE(users.authenticate(*rotated)->id, alice->user.id);
        QCOMPARE(users.authenticate(alice->token).error().code, ErrorCode::NotFound);
        // Only alice's token changed.
        QCOMPARE(users.authenticate(bob->token)->id, bob->user.id);
        // Caches of authenticated tokens (ApiHandler) see the change.
        QVERIFY(users.generation() > before);
    }

    void rotatingForAnUnknownUserChangesNothing()
    {
        TempStore t;
        UserDirectory users(*t.store, t.clock);
        auto alice = users.addUser(QStringLiteral("alice"));
        const quint64 before = users.generation();
        auto rotated = users.rotateToken(alice->user.id + 1000);
        QVERIFY(!rotated.ok());
        QCOMPARE(rotated.error().code, ErrorCode::NotFound);
        QCOMPARE(users.generation(), before);
        QCOMPARE(users.authenticate(alice->token)->id, alice->user.id);
    }

    void disablingIsStoredAndBumpsTheGeneration()
    {
        TempStore t;
        UserDirectory users(*t.store, t.clock);
        auto alice = users.addUser(QStringLiteral("alice"));
        const quint64 start = users.generation();

        QVERIFY(users.setDisabled(alice->user.id, true).ok());
        QVERIFY(users.generation() > start);
        // The directory still knows whose token it is; refusing a disabled user (403) is the
        // API's decision, made from the flag.
        auto seen = users.authenticate(alice->token);
        QVERIFY(seen.ok());
        QCOMPARE(seen->disabled, true);
        QCOMPARE(users.findByName(QStringLiteral("alice"))->disabled, true);

        const quint64 disabledAt = users.generation();
        QVERIFY(users.setDisabled(alice->user.id, false).ok());
        QVERIFY(users.generation() > disabledAt);
        QCOMPARE(users.authenticate(alice->token)->disabled, false);

        const quint64 enabledAt = users.generation();
        auto missing = users.setDisabled(alice->user.id + 1000, true);
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QCOMPARE(users.generation(), enabledAt);
    }

    void operatorUserIsCreatedOnceAndFoundAfterwards()
    {
        TempStore t;
        auto first = UserDirectory(*t.store, t.clock).operatorUser();
        QVERIFY2(first.ok(), qPrintable(first.error().toString()));
        QCOMPARE(first->name, QStringLiteral("operator"));
        QCOMPARE(first->tier, QStringLiteral("standard"));

        // Another directory over the same store (another process, another node) finds it.
        auto again = UserDirectory(*t.store, t.clock).operatorUser();
        QVERIFY(again.ok());
        QCOMPARE(again->id, first->id);
        QCOMPARE(t.store->users()->size(), 1);

        // And after a restart.
        t.reopen();
        QCOMPARE(UserDirectory(*t.store, t.clock).operatorUser()->id, first->id);
    }
};

QTEST_MAIN(tst_UserDirectory)
#include "tst_userdirectory.moc"
