#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>

#include <type_traits>
#include <utility>

namespace Ferry {

// Runs `work` on `pool` (store reads and writes: never on the GUI thread) and hands its result to
// `apply` on owner's thread. The watcher is a child of owner: if owner dies first, apply never
// runs. The work itself still finishes; whatever it touches must outlive owner (the engine does).
template<typename Work, typename Apply>
void runInBackground(QThreadPool *pool, QObject *owner, Work work, Apply apply)
{
    using Value = std::invoke_result_t<Work>;
    auto *watcher = new QFutureWatcher<Value>(owner);
    QObject::connect(watcher, &QFutureWatcherBase::finished, owner,
                     [watcher, apply = std::move(apply)]() mutable {
                         apply(watcher->result());
                         watcher->deleteLater();
                     });
    watcher->setFuture(
        QtConcurrent::run(pool ? pool : QThreadPool::globalInstance(), std::move(work)));
}

} // namespace Ferry
