// ChunkPipeline's back-pressure (what lets the HTTP layer stop reading an upload's body instead
// of blocking its network thread): room() is free below the bound, a future at it that finishes
// once a chunk was written, and finishes too when the sink failed or the pipeline was dropped.
#include "storage/chunkpipeline.h"

#include <QSemaphore>
#include <QTest>
#include <QThreadPool>

using namespace Ferry;

class tst_ChunkPipeline : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roomIsAFutureAtTheBound()
    {
        QThreadPool pool;
        QSemaphore writing; // a permit per chunk the sink may write
        std::atomic<int> written = 0;
        {
            ChunkPipeline pipeline(
                pool,
                [&](qint64, const QByteArray &) -> Result<void> {
                    writing.acquire();
                    ++written;
                    return {};
                },
                {}, 2);
            QVERIFY(!pipeline.room()); // empty
            // The first chunk goes to the sink at once (and waits there); two more queue.
            QVERIFY(pipeline.push(0, QByteArray(10, 'a')).ok());
            QVERIFY(QTest::qWaitFor([&] { return !pipeline.room(); }));
            QVERIFY(pipeline.push(10, QByteArray(10, 'b')).ok());
            QVERIFY(pipeline.push(20, QByteArray(10, 'c')).ok());
            std::optional<QFuture<void>> room = pipeline.room();
            QVERIFY(room);
            QTest::qWait(50);
            QVERIFY(!room->isFinished()); // nothing written yet
            writing.release();            // chunk a written, b goes to the sink: one waits
            QVERIFY(QTest::qWaitFor([&] { return room->isFinished(); }));
            QVERIFY(!pipeline.room());
            writing.release(2);
            QVERIFY(pipeline.drain().ok());
            QCOMPARE(written.load(), 3);
        }
    }

    void roomEndsWhenTheSinkFails()
    {
        QThreadPool pool;
        QSemaphore writing;
        ChunkPipeline pipeline(
            pool,
            [&](qint64 start, const QByteArray &) -> Result<void> {
                writing.acquire();
                if (start == 0)
                    return makeError(ErrorCode::Storage, QStringLiteral("disk on fire"));
                return {};
            },
            {}, 1);
        QVERIFY(pipeline.push(0, QByteArray(1, 'a')).ok());
        QVERIFY(QTest::qWaitFor([&] { return !pipeline.room(); }));
        QVERIFY(pipeline.push(1, QByteArray(1, 'b')).ok());
        std::optional<QFuture<void>> room = pipeline.room();
        QVERIFY(room);
        writing.release(2);
        QVERIFY(QTest::qWaitFor([&] { return room->isFinished(); }));
        QVERIFY(!pipeline.room()); // after an error: push() says what went wrong
        auto pushed = pipeline.push(2, QByteArray(1, 'c'));
        QVERIFY(!pushed.ok());
        QCOMPARE(pushed.error().message, QStringLiteral("disk on fire"));
    }

    void roomEndsWhenThePipelineIsDropped()
    {
        QThreadPool pool;
        QSemaphore writing;
        std::optional<QFuture<void>> room;
        {
            ChunkPipeline pipeline(
                pool,
                [&](qint64, const QByteArray &) -> Result<void> {
                    writing.acquire();
                    return {};
                },
                {}, 1);
            QVERIFY(pipeline.push(0, QByteArray(1, 'a')).ok());
            QVERIFY(QTest::qWaitFor([&] { return !pipeline.room(); }));
            QVERIFY(pipeline.push(1, QByteArray(1, 'b')).ok());
            room = pipeline.room();
            QVERIFY(room);
        }
        QVERIFY(room->isFinished()); // the body's reader is never left waiting
        writing.release(2);
        pool.waitForDone();
    }
};

QTEST_GUILESS_MAIN(tst_ChunkPipeline)
#include "tst_chunkpipeline.moc"
