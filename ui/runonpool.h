#pragma once

#include <QFuture>
#include <QFutureWatcher>
#include <QObject>
#include <QPointer>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>

#include <coroutine>
#include <optional>
#include <type_traits>
#include <utility>

// How the console runs store calls without blocking the GUI thread: a page's method is a
// coroutine (QCoro::Task<>) that starts the blocking part on a thread pool and co_awaits its
// result back on the GUI thread:
//
//     QCoro::Task<> JobsPage::loadUsers()
//     {
//         Store *store = &m_context.store;
//         auto read = runOnPool(this, m_readers, [store] { return store->users(); });
//         const auto users = co_await read;
//         if (!users)
//             co_return; // the page was destroyed while the store was read
//         ... *users is the Result<QList<User>> the work returned ...
//     }
//
// The rules, because a coroutine can outlive the object whose method it is:
// - After every co_await, check before touching `this`. The awaited result is a std::optional,
//   empty when `context` was destroyed meanwhile: co_return at once. (The QFutureWatcher child
//   of the widget that this replaced never called back either.) Anything else a coroutine awaits
//   needs a QPointer check of its own.
// - The work runs on the pool, never on the GUI thread: it must not touch widgets, and whatever
//   it uses (the store, the queue, ...) must outlive `context` (the engine does). Capture those by
//   pointer and values by copy, never `this`.
// - Name the call, then co_await the name. GCC 12 destroys a temporary that is passed by value
//   inside a co_await expression twice (a lambda's captured QString is freed twice: seen with
//   AddressSanitizer), so `co_await runOnPool(...)` in one expression does not compile.
//   Keep other co_await expressions free of temporaries too.
// - A coroutine takes its parameters by value: a reference would dangle once the caller's
//   argument goes away, which happens while the coroutine is suspended. No lambda coroutines
//   with captures, for the same reason: the lambda object dies at the first suspension.
// - The rest of the coroutine always runs from the event loop, even when the work finished at
//   once, as the watcher's queued callback did: a caller never sees it run inside its own call.
// - Calling a coroutine without co_awaiting it starts it and lets it run on its own; its frame is
//   freed when it ends. Nothing throws: work returns Result<T>, never an exception.

namespace Ferry {

// What runOnPool returns: the work, already running, for a coroutine to co_await.
template<typename T>
class [[nodiscard]] PoolCall
{
public:
    PoolCall(QObject *context, QFuture<T> future) : m_context(context), m_future(std::move(future))
    {}

    class Awaiter
    {
    public:
        Awaiter(QPointer<QObject> context, QFuture<T> future)
            : m_context(std::move(context)), m_future(std::move(future))
        {}

        bool await_ready() const noexcept { return false; } // resume from the event loop, always

        void await_suspend(std::coroutine_handle<> coroutine)
        {
            // Not a child of context: a watcher deleted with its context would leave the
            // coroutine suspended for ever, its frame never freed. Resumed either way, the
            // coroutine sees the empty result and returns.
            auto *watcher = new QFutureWatcher<T>;
            QObject::connect(watcher, &QFutureWatcherBase::finished, watcher, [watcher, coroutine] {
                coroutine.resume(); // may end the coroutine and free its frame
                watcher->deleteLater();
            });
            watcher->setFuture(m_future);
        }

        std::optional<T> await_resume()
        {
            if (!m_context)
                return std::nullopt;
            return m_future.takeResult();
        }

    private:
        QPointer<QObject> m_context;
        QFuture<T> m_future;
    };

    Awaiter operator co_await() & { return {m_context, m_future}; }
    // A temporary cannot be awaited: name the call first (see the rules above).
    Awaiter operator co_await() && = delete;

private:
    QPointer<QObject> m_context;
    QFuture<T> m_future;
};

// Runs work() on pool (the global pool when null) at once; a coroutine co_awaits the returned
// PoolCall, on context's thread (the GUI), for work's result: empty when context was destroyed
// before the result came.
template<typename Work>
PoolCall<std::invoke_result_t<Work>> runOnPool(QObject *context, QThreadPool *pool, Work work)
{
    static_assert(!std::is_void_v<std::invoke_result_t<Work>>,
                  "work returns what it did: a write with nothing to report returns Result<void>");
    return {context,
            QtConcurrent::run(pool ? pool : QThreadPool::globalInstance(), std::move(work))};
}

} // namespace Ferry
