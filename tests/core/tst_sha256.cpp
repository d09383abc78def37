// SHA-256 over libcrypto: the FIPS 180-2 test vectors, pieces equal the whole, and result()
// can be asked twice and in the middle of a message.
#include "core/sha256.h"

#include <QCryptographicHash>
#include <QRandomGenerator>
#include <QTest>

using namespace Ferry;

class tst_Sha256 : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void knownVectors_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QByteArray>("hex");
        QTest::newRow("empty")
            << QByteArray()
            << QByteArray("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        QTest::newRow("abc")
            << QByteArray("abc")
            << QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        QTest::newRow("two blocks")
            << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            << QByteArray("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    void knownVectors()
    {
        QFETCH(QByteArray, input);
        QFETCH(QByteArray, hex);
        QCOMPARE(Sha256::hash(input).toHex(), hex);
    }

    void piecesEqualTheWholeAndQtsAnswer()
    {
        QByteArray data(3'000'001, Qt::Uninitialized);
        for (char &c : data)
            c = char(QRandomGenerator::global()->generate());
        Sha256 pieces;
        qsizetype at = 0;
        for (qsizetype step = 1; at < data.size(); step = step * 3 + 1) {
            const qsizetype n = qMin(step, data.size() - at);
            pieces.addData(QByteArrayView(data).sliced(at, n));
            at += n;
        }
        const QByteArray expected = QCryptographicHash::hash(data, QCryptographicHash::Sha256);
        QCOMPARE(pieces.result(), expected);
        QCOMPARE(pieces.result(), expected); // asking again changes nothing
        QCOMPARE(Sha256::hash(data), expected);
    }

    void resultMidwayDoesNotDisturbTheMessage()
    {
        Sha256 sha;
        sha.addData("ab");
        QCOMPARE(sha.result(), Sha256::hash("ab"));
        sha.addData("c");
        QCOMPARE(sha.result().toHex(),
                 QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }
};

QTEST_GUILESS_MAIN(tst_Sha256)
#include "tst_sha256.moc"
