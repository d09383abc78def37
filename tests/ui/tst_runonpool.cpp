#include "ui/runonpool.h"

#include <QCoroTask>
#include <QPointer>
#include <QSemaphore>
#include <QTest>
#include <QThread>
#include <QThreadPool>

using namespace Ferry;

namespace {

// Counts its own destruction: a coroutine frame holding one was freed when the count goes up.
struct FrameProbe
{
    explicit FrameProbe(int *destroyed) : m_destroyed(destroyed) {}
    FrameProbe(const FrameProbe &) = delete;
    FrameProbe &operator=(const FrameProbe &) = delete;
    ~FrameProbe() { ++*m_destroyed; }
    int *m_destroyed;
};

// What a page is to runOnPool: a QObject whose coroutine reads on a pool, then writes its members
// (and, for the test, counters that outlive it).
class Reader : public QObject
{
public:
    QCoro::Task<> read(QThreadPool *pool, QSemaphore *gate, int *continued, int *framesFreed)
    {
        const FrameProbe probe(framesFreed);
        auto reading = runOnPool(this, pool, [gate, text = m_text]() -> QString {
            if (gate)
                gate->acquire();
            return text + QStringLiteral(", read");
        });
        const auto value = co_await reading;
        if (!value)
            co_return; // the reader is gone
        m_value = *value;
        m_thread = QThread::currentThread();
        ++*continued;
    }

    QString m_text = QStringLiteral("a QString on the heap, long enough not to be inline");
    QString m_value;
    QThread *m_thread = nullptr;
};

} // namespace

// The helper's lifetime rule (ui/runonpool.h): the rest of a coroutine runs on the GUI thread,
// from the event loop, and never once its object was destroyed; its frame is freed either way.
class tst_RunOnPool : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void continuesOnTheGuiThreadFromTheEventLoop()
    {
        QThreadPool pool;
        int continued = 0;
        int framesFreed = 0;
        Reader reader;
        reader.read(&pool, nullptr, &continued, &framesFreed);
        QVERIFY(pool.waitForDone(10'000));
        // The work is done, yet the caller never sees the rest run inside its own call.
        QCOMPARE(continued, 0);
        QTRY_COMPARE(continued, 1);
        QCOMPARE(reader.m_thread, QThread::currentThread());
        QVERIFY(reader.m_value.startsWith(reader.m_text));
        QCOMPARE(framesFreed, 1);
    }

    void destroyedObjectIsNeverContinued()
    {
        QThreadPool pool;
        QSemaphore gate;
        int continued = 0;
        int framesFreed = 0;
        auto *reader = new Reader;
        const QPointer<Reader> watch(reader);
        reader->read(&pool, &gate, &continued, &framesFreed);
        // The read is under way (held at the gate) when its object goes.
        delete reader;
        QVERIFY(!watch);
        gate.release();
        QVERIFY(pool.waitForDone(10'000));
        // The finished work reaches the event loop: the coroutine resumes, sees its object gone
        // and returns without touching it; its frame is freed.
        QTRY_COMPARE(framesFreed, 1);
        QTest::qWait(50);
        QCOMPARE(continued, 0);
    }

    void manyReadsOfADestroyedObject()
    {
        // A page's timers start reads while earlier ones are still queued on its one thread.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        QSemaphore gate;
        int continued = 0;
        int framesFreed = 0;
        auto *reader = new Reader;
        for (int i = 0; i < 20; ++i)
            reader->read(&pool, &gate, &continued, &framesFreed);
        delete reader;
        gate.release(20);
        QVERIFY(pool.waitForDone(10'000));
        QTRY_COMPARE(framesFreed, 20);
        QCOMPARE(continued, 0);
    }
};

QTEST_MAIN(tst_RunOnPool)
#include "tst_runonpool.moc"
