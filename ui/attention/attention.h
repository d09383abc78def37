#pragma once

#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <set>
#include <utility>

namespace Ferry {

// What deserves the operator's attention while the window is in the background, as notices
// (a title and a sentence) for the tray to show: jobs that end failed or dead (one notice per
// burst, with the count), users whose monthly quota is used up (once per user and month), and
// the adaptive limit dropping because of memory pressure. Each kind can be switched off; the
// choice is kept in the console's settings. It also tells the tray how Ferry is doing: running,
// paused, or failing (a job failed in the last five minutes). A console that observes a cluster
// (`ferry --observe`) runs no job, so it reads the jobs that ended failed or dead on any node from
// the shared database instead (checkFailures).
class Attention final : public QObject
{
    Q_OBJECT
public:
    enum class Kind { Failures, Quota, Memory };
    Q_ENUM(Kind)
    enum class State { Running, Paused, Failing };
    Q_ENUM(State)

    struct Timing
    {
        int burstMs = 3000;         // failures closer together than this make one notice
        int failingMs = 5 * 60'000; // how long a failure keeps the state "failing"
        int quotaPollMs = 60'000;   // how often users' quotas are read
        int failurePollMs = 5000;   // observing: how often the cluster's failures are read
    };

    Attention(ConsoleContext &context, Timing timing, QObject *parent = nullptr);
    Attention(ConsoleContext &context, QObject *parent = nullptr)
        : Attention(context, Timing{}, parent)
    {}

    bool isEnabled(Kind kind) const;
    void setEnabled(Kind kind, bool enabled);
    State state() const { return m_state; }

    // The engine's events (queued connections from the dispatcher's and the monitor's threads).
    void jobFinished(qint64 jobId, int status);
    void limitChanged(int effective, int configured, const QString &reason);
    // Reads every user's quota now (also done every quotaPollMs).
    QCoro::Task<> checkQuotas();
    // Observing: reads the jobs that ended failed or dead on any node since the last read (also
    // done every failurePollMs). The first read only notes where the failures stand: those that
    // ended before the console opened are not news.
    QCoro::Task<> checkFailures();
    // Observing: the first read is done (what fails from now on is news).
    bool knowsWhereFailuresStand() const { return m_failuresRead; }

Q_SIGNALS:
    void notice(const QString &title, const QString &text);
    void stateChanged(Ferry::Attention::State state);

private:
    void updateState();
    void flushFailures();

    ConsoleContext &m_context;
    Timing m_timing;
    QHash<Kind, bool> m_enabled;
    QTimer m_burst;
    QTimer m_failingFor;
    QTimer m_quotaPoll;
    int m_failed = 0; // in the burst being gathered
    int m_dead = 0;
    int m_lastEffective = -1;
    QSet<QString> m_quotaNoticed; // "userId/period"
    QTimer m_failurePoll;
    bool m_failuresRead = false;    // the first read (where failures stand) is done
    bool m_failuresReading = false; // a read is under way
    qint64 m_lastFailureAt = 0;     // the latest end of a failure read
    // Failures read that ended in the last FailureLookbackMs before m_lastFailureAt, as
    // (finished_at, id): each read goes back that far for failures committed late.
    std::set<std::pair<qint64, qint64>> m_failuresSeen;
    State m_state = State::Running;
};

} // namespace Ferry
