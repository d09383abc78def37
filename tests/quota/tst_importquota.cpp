// The byte quota charges what an upload costs, not what it weighs compressed (issue 12, item 6):
// a gzip upload is charged its stored size when it arrives and the rest as its import reads the
// decompressed stream (MigrateHandler, QuotaLedger::chargeImportBytes). Real HTTP to a server on
// an ephemeral port, the real migrate handler and dispatcher, on SQLite and PostgreSQL.
#include "../api/jobsapitestsupport.h"
#include "gzip.h"

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// About 1.3 MB of CSV that compresses more than 5 times.
QByteArray bigCsv()
{
    QByteArray csv = "id,name,city\n";
    for (int i = 0; i < 60'000; ++i)
        csv += QByteArray::number(i) + ",someone,somewhere\n";
    return csv;
}

} // namespace

class tst_ImportQuota : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void gzipIsChargedItsDecompressedSize();
    void gzipPastTheByteLimitWhenDecompressedIsRefused();

private:
    // Uploads `body` as gzip into `dataset`; returns the job's final row.
    static Job upload(JobsApiFixture &f, const QByteArray &dataset, const QByteArray &body);
    static void wireQuota(JobsApiFixture &f)
    {
        auto migrate =
            std::static_pointer_cast<MigrateHandler>(f.handlers.find(QStringLiteral("migrate")));
        migrate->setQuota(f.quotas.get()); // as app/enginehost.cpp does
    }
};

Job tst_ImportQuota::upload(JobsApiFixture &f, const QByteArray &dataset, const QByteArray &body)
{
    const JobsReply reply = f.send(
        "POST",
        QStringLiteral("/api/v1/uploads?dataset=%1&format=csv").arg(QString::fromLatin1(dataset)),
        f.aliceToken, {{"Content-Type", "text/csv"}, {"Content-Encoding", "gzip"}}, body);
    if (reply.status != 202)
        qFatal("upload: %d %s", reply.status, reply.body.constData());
    const qint64 id = reply.json.value(u"jobId").toString().toLongLong();
    f.startDispatcher();
    if (!waitFor([&] { return isTerminal((*f.t.store->job(id, std::nullopt))->status); }))
        qFatal("job %lld did not finish", id);
    return **f.t.store->job(id, std::nullopt);
}

void tst_ImportQuota::gzipIsChargedItsDecompressedSize()
{
    JobsApiFixture f;
    wireQuota(f);
    const QByteArray csv = bigCsv();
    const QByteArray compressed = gzip(csv, GzipSmallest);
    QVERIFY(compressed.size() * 5 < csv.size());
    const Job job = upload(f, "big", compressed);
    QCOMPARE(job.status, JobStatus::Completed);
    auto status = f.quotas->status(f.alice);
    QVERIFY(status.ok());
    QCOMPARE(status->uploadsUsed, 1);
    // Charged what it decompressed to (it used to be charged compressed.size()).
    QCOMPARE(status->bytesUsed, qint64(csv.size()));
}

void tst_ImportQuota::gzipPastTheByteLimitWhenDecompressedIsRefused()
{
    JobsApiFixture f;
    wireQuota(f);
    const QByteArray csv = bigCsv();
    const QByteArray compressed = gzip(csv, GzipSmallest);
    // Room for the compressed upload many times over, not for what it decompresses to.
    QVERIFY(f.quotas->setLimits(f.alice.id, std::nullopt, csv.size() / 2).ok());
    const Job job = upload(f, "big", compressed);
    QVERIFY2(job.status == JobStatus::Failed || job.status == JobStatus::Dead,
             qPrintable(jobStatusName(job.status)));
    QVERIFY2(job.error.contains(QStringLiteral("byte limit exceeded")), qPrintable(job.error));
    // Nothing half-imported, and only the upload itself stays charged.
    auto dataset = f.t.store->datasets().dataset(f.alice.id, QStringLiteral("big"));
    QVERIFY(dataset.ok());
    QVERIFY(!dataset->has_value() || (*dataset)->records == 0);
    auto status = f.quotas->status(f.alice);
    QVERIFY(status.ok());
    QCOMPARE(status->bytesUsed, qint64(compressed.size()));
    // Another, small upload still fits.
    const Job small = upload(f, "small", gzip("id,name\n1,a\n"));
    QCOMPARE(small.status, JobStatus::Completed);
}

QTEST_GUILESS_MAIN(tst_ImportQuota)
#include "tst_importquota.moc"
