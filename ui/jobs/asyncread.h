#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>

#include <type_traits>
#include <utility>

namespace Ferry {

// Runs work() on the pool and hands its result to done() on context's thread (the GUI). When
// context is destroyed first, done() never runs; the work still finishes on the pool.
template<typename Work, typename Done>
void runOffGui(QThreadPool *pool, QObject *context, Work work, Done done)
{
    using T = std::invoke_result_t<Work>;
    auto *watcher = new QFutureWatcher<T>(context);
    QObject::connect(watcher, &QFutureWatcherBase::finished, context,
                     [watcher, done = std::move(done)]() mutable {
                         done(watcher->future().takeResult());
                         watcher->deleteLater();
                     });
    watcher->setFuture(QtConcurrent::run(pool, std::move(work)));
}

} // namespace Ferry
