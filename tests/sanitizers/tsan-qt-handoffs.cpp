// `make tsan` preloads this into every test process (LD_PRELOAD). Debian's Qt is not built with
// ThreadSanitizer, so the happens-before that Qt provides inside libQt6Core when it hands work to
// another thread is invisible to TSan: the mutex of the posted-event queue, the QSemaphore of a
// BlockingQueuedConnection, the QThreadPool's queue, and QWaitCondition::wait() unlocking and
// relocking a QMutex (QMutex's own lock and unlock are annotated in Qt's headers, qtsan_impl.h,
// but not when libQt6Core does them). Every such handoff would be reported as a race on whatever
// the other thread then reads (a functor's captures, a runnable's fields, a mutex-guarded value).
//
// This file interposes the entry points Ferry's code calls across the PLT and tells TSan what
// Qt guarantees there, with __tsan_release() before the handoff and __tsan_acquire() where the
// other thread picks the work up; it changes no behaviour. Only calls from our code into Qt pass
// through it (Qt's calls inside libQt6Core bind directly), so it cannot hide a race in our code:
// it only adds the ordering Qt documents. It is compiled without -fsanitize (its own bookkeeping
// is not ours to check) and with weak references to the TSan interface, so the non-TSan processes
// that inherit LD_PRELOAD (the throwaway PostgreSQL, nginx) load it and are unaffected.

#include <QDeadlineTimer>
#include <QMutex>
#include <QObject>
#include <QRunnable>
#include <QThread>
#include <QThreadPool>
#include <QWaitCondition>

#include <dlfcn.h>

#include <functional>

extern "C" {
void __tsan_acquire(void *addr) __attribute__((weak));
void __tsan_release(void *addr) __attribute__((weak));
void __tsan_mutex_pre_lock(void *addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_lock(void *addr, unsigned flags, int recursion) __attribute__((weak));
void __tsan_mutex_pre_unlock(void *addr, unsigned flags) __attribute__((weak));
int __tsan_mutex_post_unlock(void *addr, unsigned flags) __attribute__((weak));
}

namespace {

bool tsan()
{
    return __tsan_acquire != nullptr;
}

void acquire(void *addr)
{
    if (tsan())
        __tsan_acquire(addr);
}

void release(void *addr)
{
    if (tsan())
        __tsan_release(addr);
}

template<typename F>
F real(const char *name)
{
    void *fn = dlvsym(RTLD_NEXT, name, "Qt_6");
    if (!fn)
        fn = dlsym(RTLD_NEXT, name);
    return reinterpret_cast<F>(fn);
}

// A functor handed to QMetaObject::invokeMethodImpl, wrapped: the caller releases on the wrapper
// before Qt posts it; whichever thread calls or destroys it acquires first. For a blocking call
// the receiver also releases on the caller's token after the call, which the caller acquires once
// invokeMethodImpl returns (Qt's QSemaphore orders the two).
struct Wrapped : QtPrivate::QSlotObjectBase
{
    QtPrivate::QSlotObjectBase *inner;
    void *doneToken;

    Wrapped(QtPrivate::QSlotObjectBase *innerSlot, void *token)
        : QSlotObjectBase(&impl), inner(innerSlot), doneToken(token)
    {}

    static void impl(int which, QSlotObjectBase *self, QObject *receiver, void **args, bool *ret)
    {
        auto *wrapped = static_cast<Wrapped *>(self);
        acquire(wrapped);
        switch (which) {
        case Destroy:
            wrapped->inner->destroyIfLastRef();
            delete wrapped;
            break;
        case Call:
            wrapped->inner->call(receiver, args);
            if (wrapped->doneToken)
                release(wrapped->doneToken);
            release(wrapped);
            break;
        case Compare:
            *ret = wrapped->inner->compare(args);
            break;
        default:
            break;
        }
    }
};

// A runnable handed to QThreadPool, wrapped in one that acquires what the caller released.
QRunnable *wrapRunnable(QRunnable *inner)
{
    static auto create =
        real<QRunnable *(*)(std::function<void()>)>("_ZN9QRunnable6createESt8functionIFvvEE");
    const bool deleteInner = inner->autoDelete();
    release(inner);
    return create([inner, deleteInner] {
        acquire(inner);
        inner->run();
        if (deleteInner)
            delete inner;
    });
}

} // namespace

extern "C" {

// bool QMetaObject::invokeMethodImpl(QObject *, QtPrivate::QSlotObjectBase *, Qt::ConnectionType,
// void *)
bool _ZN11QMetaObject16invokeMethodImplEP7QObjectPN9QtPrivate15QSlotObjectBaseEN2Qt14ConnectionTypeEPv(
    QObject *object, QtPrivate::QSlotObjectBase *slot, Qt::ConnectionType type, void *ret)
{
    using Fn = bool (*)(QObject *, QtPrivate::QSlotObjectBase *, Qt::ConnectionType, void *);
    static auto fn = real<Fn>("_ZN11QMetaObject16invokeMethodImplEP7QObjectPN9QtPrivate15QSlotObjec"
                              "tBaseEN2Qt14ConnectionTypeEPv");
    if (!tsan())
        return fn(object, slot, type, ret);
    char done = 0;
    const bool blocking = type == Qt::BlockingQueuedConnection;
    auto *wrapped = new Wrapped(slot, blocking ? &done : nullptr);
    release(wrapped);
    const bool ok = fn(object, wrapped, type, ret);
    if (blocking)
        acquire(&done);
    return ok;
}

// void QThreadPool::start(std::function<void()>, int)
void _ZN11QThreadPool5startESt8functionIFvvEEi(QThreadPool *pool,
                                               std::function<void()> run,
                                               int priority)
{
    using Fn = void (*)(QThreadPool *, std::function<void()>, int);
    static auto fn = real<Fn>("_ZN11QThreadPool5startESt8functionIFvvEEi");
    if (!tsan())
        return fn(pool, std::move(run), priority);
    auto *box = new std::function<void()>(std::move(run));
    release(box);
    fn(
        pool,
        [box] {
            acquire(box);
            (*box)();
            delete box;
        },
        priority);
}

// bool QThreadPool::tryStart(std::function<void()>)
bool _ZN11QThreadPool8tryStartESt8functionIFvvEE(QThreadPool *pool, std::function<void()> run)
{
    using Fn = bool (*)(QThreadPool *, std::function<void()>);
    static auto fn = real<Fn>("_ZN11QThreadPool8tryStartESt8functionIFvvEE");
    if (!tsan())
        return fn(pool, std::move(run));
    auto *box = new std::function<void()>(std::move(run));
    release(box);
    const bool started = fn(pool, [box] {
        acquire(box);
        (*box)();
        delete box;
    });
    if (!started)
        delete box;
    return started;
}

// void QThreadPool::start(QRunnable *, int)
void _ZN11QThreadPool5startEP9QRunnablei(QThreadPool *pool, QRunnable *runnable, int priority)
{
    using Fn = void (*)(QThreadPool *, QRunnable *, int);
    static auto fn = real<Fn>("_ZN11QThreadPool5startEP9QRunnablei");
    if (!tsan() || !runnable)
        return fn(pool, runnable, priority);
    fn(pool, wrapRunnable(runnable), priority);
}

// bool QWaitCondition::wait(QMutex *, QDeadlineTimer) and wait(QMutex *, unsigned long): Qt
// unlocks and relocks the mutex inside the call; tell TSan, as qmutex.h does for our own calls.
bool _ZN14QWaitCondition4waitEP6QMutex14QDeadlineTimer(QWaitCondition *cond,
                                                       QMutex *mutex,
                                                       QDeadlineTimer deadline)
{
    using Fn = bool (*)(QWaitCondition *, QMutex *, QDeadlineTimer);
    static auto fn = real<Fn>("_ZN14QWaitCondition4waitEP6QMutex14QDeadlineTimer");
    if (!tsan())
        return fn(cond, mutex, deadline);
    __tsan_mutex_pre_unlock(mutex, 0);
    __tsan_mutex_post_unlock(mutex, 0);
    const bool woken = fn(cond, mutex, deadline);
    __tsan_mutex_pre_lock(mutex, 0);
    __tsan_mutex_post_lock(mutex, 0, 0);
    return woken;
}

bool _ZN14QWaitCondition4waitEP6QMutexm(QWaitCondition *cond, QMutex *mutex, unsigned long ms)
{
    using Fn = bool (*)(QWaitCondition *, QMutex *, unsigned long);
    static auto fn = real<Fn>("_ZN14QWaitCondition4waitEP6QMutexm");
    if (!tsan())
        return fn(cond, mutex, ms);
    __tsan_mutex_pre_unlock(mutex, 0);
    __tsan_mutex_post_unlock(mutex, 0);
    const bool woken = fn(cond, mutex, ms);
    __tsan_mutex_pre_lock(mutex, 0);
    __tsan_mutex_post_lock(mutex, 0, 0);
    return woken;
}

// void QThread::start(QThread::Priority): Qt's threads are detached, and QThread::wait() learns
// that the thread has ended through a QMutex inside libQt6Core, so TSan sees no join. The thread
// emits finished() as the last thing it runs; it releases there and wait() acquires.
void _ZN7QThread5startENS_8PriorityE(QThread *thread, QThread::Priority priority)
{
    using Fn = void (*)(QThread *, QThread::Priority);
    static auto fn = real<Fn>("_ZN7QThread5startENS_8PriorityE");
    if (tsan())
        QObject::connect(
            thread, &QThread::finished, thread, [thread] { release(thread); },
            Qt::DirectConnection);
    fn(thread, priority);
}

// bool QThread::wait(QDeadlineTimer)
bool _ZN7QThread4waitE14QDeadlineTimer(QThread *thread, QDeadlineTimer deadline)
{
    using Fn = bool (*)(QThread *, QDeadlineTimer);
    static auto fn = real<Fn>("_ZN7QThread4waitE14QDeadlineTimer");
    const bool ended = fn(thread, deadline);
    if (ended)
        acquire(thread);
    return ended;
}

} // extern "C"
