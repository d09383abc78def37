// Hostile shapes of an import (issue 12, item 2): a record of a million columns, a header whose
// duplicate check must be linear, and a file whose one reading step would run for minutes, which
// a cancel must still stop. Bounded-time tests: each bound is generous (tens of times what the
// fixed code needs); the unfixed code needs far more.
#include "gzip.h"
#include "migrate/csvreader.h"
#include "migrate/mapping.h"
#include "migrate/migratehandler.h"
#include "migrate/migrationrequest.h"
#include "migrate/recordconverter.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"

#include <QBuffer>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// The engine as app/ wires it: a queue, a dispatcher, a real migrate handler over a blob store.
struct Engine
{
    explicit Engine(MigrateConfig migrate = {}) : blobs(t.dir.path() + QStringLiteral("/blobs"), 0)
    {
        registerBuiltinHandlers(handlers);
        handlers.add(QStringLiteral("migrate"),
                     std::make_shared<MigrateHandler>(t.store->datasets(), blobs, clock, migrate));
        QueueConfig config;
        config.pollIntervalMs = 20;
        config.backoffBaseMs = 10;
        queue = std::make_unique<JobQueue>(*t.store, handlers, clock, config);
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("test"));
        user = t.addUser(QStringLiteral("alice"));
    }
    Result<SubmittedMigration>
    submit(const QByteArray &content, const QString &format, std::optional<bool> header = {})
    {
        MigrationRequest request;
        request.userId = user;
        request.dataset = QStringLiteral("d");
        request.format = format;
        request.fileName = QStringLiteral("data.") + format;
        request.header = header;
        QBuffer buffer;
        buffer.setData(content);
        buffer.open(QIODevice::ReadOnly);
        return submitMigration(*queue, blobs, clock, request, buffer, content.size());
    }
    Job job(qint64 id) { return **t.store->job(id, std::nullopt); }
    bool finished(qint64 id, int timeoutMs)
    {
        return waitFor([&] { return isTerminal(job(id).status); }, timeoutMs);
    }

    TempStore t;
    SystemClock clock;
    FileBlobStore blobs;
    HandlerRegistry handlers;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    qint64 user = 0;
};

QByteArray manyNames(int count, const char *prefix = "c")
{
    QByteArray line;
    line.reserve(qsizetype(count) * 8);
    for (int i = 0; i < count; ++i) {
        if (i)
            line.append(',');
        line.append(prefix).append(QByteArray::number(i));
    }
    return line;
}

} // namespace

class tst_MigrateLimits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // The reader stops at the field past the cap: a million-column header or record costs no
    // more than the cap, and the error names the cap and what to do.
    void millionColumnRecordIsRefusedQuickly_data()
    {
        QTest::addColumn<QByteArray>("line");
        QTest::newRow("header of 1,000,000 names") << manyNames(1'000'000) + "\n1\n";
        QTest::newRow("1,000,000 empty fields") << QByteArray(999'999, ',') + "\n";
    }
    void millionColumnRecordIsRefusedQuickly()
    {
        QFETCH(QByteArray, line);
        QElapsedTimer timer;
        timer.start();
        auto source = ByteSource::fromBytes(line, {});
        CsvReader reader(*source, CsvReader::Options{});
        CsvReader::Row row;
        QCOMPARE(reader.next(row), CsvReader::Status::Error);
        QVERIFY2(reader.errorText().contains(u"more than 100000 fields"),
                 qPrintable(reader.errorText()));
        QVERIFY2(reader.errorText().contains(u"delimiter"), qPrintable(reader.errorText()));
        QVERIFY2(timer.elapsed() < 10'000, qPrintable(QString::number(timer.elapsed())));
    }

    // The same through a job: a small gzip of commas uploaded with header=false fails at once
    // with the cap in its error, instead of holding a worker.
    void gzipOfCommasFailsTheJobWithTheCap()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray commas = gzipRepeated(QByteArray(1 << 20, ','), 8) + QByteArray();
        QVERIFY(commas.size() < 100'000);
        auto submitted = e.submit(commas, QStringLiteral("csv"), false);
        QVERIFY2(submitted.ok(), qPrintable(submitted.error().toString()));
        QVERIFY(e.finished(submitted->jobId, 30'000));
        const Job job = e.job(submitted->jobId);
        QCOMPARE(job.status, JobStatus::Failed);
        QVERIFY2(job.error.contains(u"more than 100000 fields"), qPrintable(job.error));
    }

    // A wide header (under the cap) and its duplicate check: one pass, not one per column.
    void duplicateColumnCheckIsLinear()
    {
        constexpr int Columns = 200'000;
        std::vector<std::string> header;
        header.reserve(Columns + 1);
        for (int i = 0; i < Columns; ++i)
            header.push_back("column " + std::to_string(i));
        QElapsedTimer timer;
        timer.start();
        auto converter =
            RecordConverter::forTable(std::nullopt, QStringLiteral("column 199999"), header);
        QVERIFY2(converter.ok(), qPrintable(converter.error().toString()));
        QCOMPARE(converter->columns().size(), Columns);
        header.push_back("column 7");
        auto duplicate = RecordConverter::forTable(std::nullopt, {}, header);
        QVERIFY(!duplicate.ok());
        QVERIFY2(duplicate.error().message.contains(u"\"column 7\" appears twice"),
                 qPrintable(duplicate.error().message));
        QVERIFY2(timer.elapsed() < 10'000, qPrintable(QString::number(timer.elapsed())));
    }

    // A mapping as wide as the cap checks its names in one pass too; one wider is refused.
    void wideMappingIsLinearAndCapped()
    {
        QJsonArray fields;
        for (int i = 0; i < Mapping::MaxFields; ++i)
            fields.append(QJsonObject{{QStringLiteral("name"), QStringLiteral("f%1").arg(i)}});
        QElapsedTimer timer;
        timer.start();
        auto mapping = Mapping::fromJson(QJsonObject{{QStringLiteral("fields"), fields}});
        QVERIFY2(mapping.ok(), qPrintable(mapping.error().toString()));
        QVERIFY2(timer.elapsed() < 10'000, qPrintable(QString::number(timer.elapsed())));
        fields.append(QJsonObject{{QStringLiteral("name"), QStringLiteral("one more")}});
        auto wide = Mapping::fromJson(QJsonObject{{QStringLiteral("fields"), fields}});
        QVERIFY(!wide.ok());
        QVERIFY2(wide.error().message.contains(u"at most 100000"),
                 qPrintable(wide.error().message));
    }

    // One reading step that runs long: NDJSON whose reader skips 32 GiB of blank lines inside a
    // single next() (a 32 MB gzip). A cancel stops it within one read of the file, and the job
    // ends Cancelled, not after the whole file.
    void cancelStopsALongReadingStep()
    {
        MigrateConfig config;
        config.maxDecompressedBytes = qint64(64) << 30;
        Engine e(config);
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray member = gzipRepeated(QByteArray(64 << 20, '\n'), 16); // 1 GiB
        QByteArray file;
        for (int i = 0; i < 32; ++i)
            file += member; // concatenated members are one stream (RFC 1952)
        auto submitted = e.submit(file, QStringLiteral("ndjson"));
        QVERIFY2(submitted.ok(), qPrintable(submitted.error().toString()));
        QVERIFY(
            waitFor([&] { return e.job(submitted->jobId).status == JobStatus::Running; }, 30'000));
        QTest::qWait(300); // well inside the blank lines
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(*e.queue->cancel(submitted->jobId), JobStatus::Running);
        QVERIFY(e.finished(submitted->jobId, 60'000));
        QVERIFY2(timer.elapsed() < 10'000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(e.job(submitted->jobId).status, JobStatus::Cancelled);
    }
};

QTEST_GUILESS_MAIN(tst_MigrateLimits)

#include "tst_migratelimits.moc"
