// The one table of error codes (errorCodes(), engine/core/error.h): a row for every ErrorCode,
// the API answering by it, and docs/api.md ("Error codes") listing exactly what it says.
#include "api/apiroute.h"
#include "core/error.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

using namespace Ferry;

namespace {

struct DocRow
{
    int status = 0;
    QString apiCode;
};

// The rows of the "Error codes" table: | `name` | status | `code` | meaning |
QHash<QString, DocRow> documentedCodes(QString *problem)
{
    QFile file(QStringLiteral(FERRY_SOURCE_DIR "/docs/api.md"));
    if (!file.open(QIODevice::ReadOnly)) {
        *problem = QStringLiteral("cannot read %1").arg(file.fileName());
        return {};
    }
    const QString text = QString::fromUtf8(file.readAll());
    const qsizetype section = text.indexOf(u"**Error codes.**");
    if (section < 0) {
        *problem = QStringLiteral("docs/api.md has no \"**Error codes.**\" paragraph");
        return {};
    }
    static const QRegularExpression row(
        QStringLiteral(R"(^\| `([a-z_]+)` \| (\d{3}) \| `([a-z_]+)` \|)"));
    QHash<QString, DocRow> rows;
    bool inTable = false;
    const QStringList lines = text.mid(section).split(u'\n');
    for (const QString &line : lines) {
        if (!line.startsWith(u'|')) {
            if (inTable)
                break; // the table ended
            continue;
        }
        inTable = true;
        const auto match = row.match(line);
        if (!match.hasMatch())
            continue; // the header and its rule
        if (rows.contains(match.captured(1)))
            *problem = QStringLiteral("%1 is listed twice").arg(match.captured(1));
        rows.insert(match.captured(1), {match.captured(2).toInt(), match.captured(3)});
    }
    return rows;
}

} // namespace

class tst_ErrorCodes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyCodeHasOneRow()
    {
        const auto table = errorCodes();
        QCOMPARE(qsizetype(table.size()), qsizetype(ErrorCode::Internal) + 1);
        QSet<QString> names;
        for (int i = 0; i <= int(ErrorCode::Internal); ++i) {
            const auto code = ErrorCode(i);
            const ErrorCodeInfo &info = errorCodeInfo(code);
            QCOMPARE(int(info.code), i);
            const QString name = errorCodeName(code);
            QVERIFY2(!name.isEmpty(), qPrintable(QString::number(i)));
            QCOMPARE(name, QString::fromLatin1(info.name));
            QVERIFY2(!names.contains(name), qPrintable(name + QStringLiteral(" names two codes")));
            names.insert(name);
            QVERIFY(info.httpStatus >= 400 && info.httpStatus < 600);
            QVERIFY(qstrlen(info.httpTitle) > 0);
            QVERIFY(qstrlen(info.apiCode) > 0);
        }
    }

    void apiAnswersByTheTable()
    {
        for (const ErrorCodeInfo &info : errorCodes()) {
            const Http::Response response = Api::fromError(
                makeError(info.code, QStringLiteral("what"), QStringLiteral("hint")));
            QCOMPARE(response.status, info.httpStatus);
            const QJsonObject body = QJsonDocument::fromJson(response.body).object();
            QCOMPARE(body.value(u"code").toString(), QString::fromLatin1(info.apiCode));
            QCOMPARE(body.value(u"error").toString(), QString::fromLatin1(info.httpTitle));
            QCOMPARE(body.value(u"message").toString(), QStringLiteral("what hint"));
        }
        // What clients have always received for a failing store: a 503 to retry.
        const Http::Response storage =
            Api::fromError(makeError(ErrorCode::Storage, QStringLiteral("x")));
        QCOMPARE(storage.status, 503);
        QCOMPARE(QJsonDocument::fromJson(storage.body).object().value(u"code").toString(),
                 QStringLiteral("unavailable"));
    }

    void docsListEveryCode()
    {
        QString problem;
        const QHash<QString, DocRow> documented = documentedCodes(&problem);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QSet<QString> names;
        for (const ErrorCodeInfo &info : errorCodes()) {
            const QString name = QString::fromLatin1(info.name);
            names.insert(name);
            QVERIFY2(
                documented.contains(name),
                qPrintable(QStringLiteral("docs/api.md does not list the error code ") + name));
            QCOMPARE(documented.value(name).status, info.httpStatus);
            QCOMPARE(documented.value(name).apiCode, QString::fromLatin1(info.apiCode));
        }
        for (auto it = documented.cbegin(); it != documented.cend(); ++it) {
            QVERIFY2(names.contains(it.key()),
                     qPrintable(QStringLiteral("docs/api.md lists ") + it.key() +
                                QStringLiteral(", not an error code")));
        }
    }
};

QTEST_GUILESS_MAIN(tst_ErrorCodes)
#include "tst_errorcodes.moc"
