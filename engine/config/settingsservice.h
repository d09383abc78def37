#pragma once

#include "config/ferryconfig.h"
#include "core/error.h"
#include "store/settingstore.h"

#include <QHash>
#include <QMutex>
#include <QStringList>

#include <functional>
#include <map>

namespace Ferry {

// The settings an operator changes from the console: validated, persisted in the store's
// settings table as overrides ("console.<key>"), and applied to the running engine through
// appliers that app/enginehost.cpp registers for what it can change live. Everything else
// applies at the next start, when EngineHost reads the overrides back.
//
// Precedence: defaults < ferry.conf < FERRY_* environment < command line (the "configured"
// value) < what the operator saved in the console. A console override stays until the operator
// reverts it to the configured value.
//
// Values are text, as the operator types them:
//   listen_address       "127.0.0.1:8080", "[::1]:8080" (after restart)
//   rate_limit           requests per client per window, 1..1e9
//   rate_window_seconds  1..2678400 (31 days)
//   trusted_proxies      "10.0.0.0/8, ::1" or "none"
//   memory_high          bytes, K/M/G/T suffixes; above the low mark
//   memory_low           bytes, K/M/G/T suffixes; above 0
//   job_timeout_seconds  per attempt, 0: none, at most 7 days
//   job_max_attempts     1..100
//
// Thread-safe; save() writes to the store, so call it off the GUI thread.
class SettingsService final
{
public:
    enum class Group {
        ListenAddress,
        RateLimit,
        TrustedProxies,
        MemoryWatermarks,
        JobDefaults,
    };
    enum class Source {
        Configuration, // defaults, ferry.conf, environment or command line
        Console,       // an override saved from the console
    };
    struct Setting
    {
        QString key;
        QString label;
        Group group = Group::ListenAddress;
        QString value;      // in force (or from the next start, for what is not live)
        QString configured; // what the configuration alone gives
        Source source = Source::Configuration;
        bool live = false; // changes apply at once; else after a restart
    };
    struct SaveOutcome
    {
        QStringList changed;      // keys whose value changed
        QStringList appliedLive;  // of which applied to the running engine
        QStringList afterRestart; // of which apply at the next start
    };
    // Applies the group's values from the new configuration to the running engine.
    using Applier = std::function<Result<void>(const FerryConfig &)>;

    SettingsService(SettingStore &store, const FerryConfig &configured);

    static QStringList keys();
    static Group groupOf(const QString &key);
    static QString labelOf(const QString &key);
    static QString storeKey(const QString &key) { return QStringLiteral("console.") + key; }

    // Parses one value into config; InvalidArgument naming the setting when it is not valid.
    static Result<void> setText(FerryConfig &config, const QString &key, const QString &text);
    static QString textOf(const FerryConfig &config, const QString &key);
    // What must hold between values (memory marks, the rate policy, ...).
    static Result<void> validate(const FerryConfig &config);

    // Reads the saved overrides (EngineHost, before it builds anything from the configuration).
    // An override that no longer parses is skipped with a warning.
    Result<void> load();
    // Reads the overrides again and applies, live where an applier exists, those that differ from
    // what is in force: another node (or process) saved them on the shared store. Returns the
    // keys whose value changed. EngineHost calls it when the store announces a change of a
    // console setting (PostgreSQL NOTIFY ferry_settings) and every few seconds as a fallback.
    Result<QStringList> reload();
    FerryConfig effective() const;
    QList<Setting> settings() const;

    // Registered by EngineHost for each group it can change live.
    void setApplier(Group group, Applier applier);

    // Validates every value first (nothing is written if one is wrong), then saves the changed
    // ones as overrides and applies them live where an applier exists.
    Result<SaveOutcome> save(const QHash<QString, QString> &values);
    // Drops the overrides of these keys: the configured values apply again (live where possible).
    Result<SaveOutcome> revert(const QStringList &keys);

private:
    struct Stored
    {
        FerryConfig effective;
        QHash<QString, QString> overrides;
    };
    Result<Stored> readStored() const;
    Result<SaveOutcome> commit(const FerryConfig &candidate, const QHash<QString, QString> &stored);

    SettingStore &m_store;
    const FerryConfig m_configured;
    QMutex m_saveMutex; // one save or revert at a time, from reading the values to applying them
    mutable QMutex m_mutex;
    FerryConfig m_effective;
    QHash<QString, QString> m_overrides; // key -> text saved from the console
    std::map<Group, Applier> m_appliers;
};

} // namespace Ferry
