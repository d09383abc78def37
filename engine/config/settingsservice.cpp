#include "config/settingsservice.h"

#include "monitor/concurrencygovernor.h"
#include "quota/limitparser.h"
#include "ratelimit/clientaddress.h"
#include "ratelimit/ratelimiter.h"

#include <QHostAddress>
#include <QLoggingCategory>
#include <QMutexLocker>

#include <set>

namespace Ferry {

Q_LOGGING_CATEGORY(lcSettings, "ferry.settings")

namespace {

struct Descriptor
{
    const char *key;
    const char *label;
    SettingsService::Group group;
};

constexpr Descriptor Descriptors[] = {
    {"listen_address", "Listen address", SettingsService::Group::ListenAddress},
    {"rate_limit", "Rate limit (requests per window)", SettingsService::Group::RateLimit},
    {"rate_window_seconds", "Rate limit window (seconds)", SettingsService::Group::RateLimit},
    {"trusted_proxies", "Trusted proxies", SettingsService::Group::TrustedProxies},
    {"memory_high", "Memory high-water mark", SettingsService::Group::MemoryWatermarks},
    {"memory_low", "Memory low-water mark", SettingsService::Group::MemoryWatermarks},
    {"job_timeout_seconds", "Default job timeout (seconds)", SettingsService::Group::JobDefaults},
    {"job_max_attempts", "Default attempts per job", SettingsService::Group::JobDefaults},
};

const Descriptor *descriptorOf(const QString &key)
{
    for (const Descriptor &descriptor : Descriptors) {
        if (key == QLatin1String(descriptor.key))
            return &descriptor;
    }
    return nullptr;
}

Error invalid(const QString &key, const QString &text, const QString &hint)
{
    return makeError(
        ErrorCode::InvalidArgument,
        QStringLiteral("%1: '%2' is not valid.").arg(SettingsService::labelOf(key), text), hint);
}

Result<qint64> wholeNumber(const QString &key, const QString &text, qint64 min, qint64 max)
{
    bool ok = false;
    const QString trimmed = text.trimmed();
    const qint64 value = trimmed.toLongLong(&ok);
    if (!ok || value < min || value > max)
        return invalid(key, text,
                       QStringLiteral("Use a whole number from %1 to %2.").arg(min).arg(max));
    return value;
}

Result<qint64> byteSize(const QString &key, const QString &text)
{
    auto parsed = parseLimit(text, LimitKind::Bytes, SettingsService::labelOf(key));
    if (!parsed || !parsed->has_value() || **parsed <= 0) {
        return invalid(key, text,
                       QStringLiteral("Use a number of bytes above 0; K, M, G, T suffixes are "
                                      "allowed (512M, 2G)."));
    }
    return **parsed;
}

QString byteText(qint64 bytes)
{
    static const char Suffixes[] = "TGMK";
    for (int i = 0; i < 4; ++i) {
        const qint64 unit = qint64(1) << (10 * (4 - i));
        if (bytes > 0 && bytes % unit == 0)
            return QString::number(bytes / unit) + QLatin1Char(Suffixes[i]);
    }
    return QString::number(bytes);
}

Result<std::pair<QString, quint16>> listenAddress(const QString &key, const QString &text)
{
    const QString trimmed = text.trimmed();
    QString host;
    QString port;
    if (trimmed.startsWith(u'[')) {
        const qsizetype close = trimmed.indexOf(QStringLiteral("]:"));
        if (close > 0) {
            host = trimmed.mid(1, close - 1);
            port = trimmed.mid(close + 2);
        }
    } else if (trimmed.count(u':') == 1) {
        host = trimmed.section(u':', 0, 0);
        port = trimmed.section(u':', 1);
    }
    bool ok = false;
    const uint number = port.toUInt(&ok);
    if (host.isEmpty() || QHostAddress(host).isNull() || !ok || number > 65535) {
        return invalid(key, text,
                       QStringLiteral("Use an IP address and a port: 127.0.0.1:8080, "
                                      "0.0.0.0:8080 or [::1]:8080 (port 0: any free port)."));
    }
    return std::pair<QString, quint16>(host, quint16(number));
}

} // namespace

SettingsService::SettingsService(SettingStore &store, const FerryConfig &configured)
    : m_store(store), m_configured(configured), m_effective(configured)
{}

QStringList SettingsService::keys()
{
    QStringList keys;
    for (const Descriptor &descriptor : Descriptors)
        keys.append(QLatin1String(descriptor.key));
    return keys;
}

SettingsService::Group SettingsService::groupOf(const QString &key)
{
    const Descriptor *descriptor = descriptorOf(key);
    return descriptor ? descriptor->group : Group::ListenAddress;
}

QString SettingsService::labelOf(const QString &key)
{
    const Descriptor *descriptor = descriptorOf(key);
    return descriptor ? QLatin1String(descriptor->label) : key;
}

Result<void> SettingsService::setText(FerryConfig &config, const QString &key, const QString &text)
{
    if (key == u"listen_address") {
        auto address = listenAddress(key, text);
        if (!address)
            return address.error();
        config.listenHost = address->first;
        config.listenPort = address->second;
    } else if (key == u"rate_limit") {
        auto value = wholeNumber(key, text, 1, RateLimitPolicy::MaxLimit);
        if (!value)
            return value.error();
        config.rateLimit = *value;
    } else if (key == u"rate_window_seconds") {
        auto value = wholeNumber(key, text, 1, RateLimitPolicy::MaxWindow.count());
        if (!value)
            return value.error();
        config.rateWindowSeconds = *value;
    } else if (key == u"trusted_proxies") {
        const QString list = text.trimmed() == u"none" ? QString() : text.trimmed();
        if (auto parsed = ClientAddress::fromTrustedProxies(list); !parsed) {
            return invalid(key, text,
                           parsed.error().message + u' ' +
                               QStringLiteral("Use addresses or CIDR ranges separated by commas "
                                              "(10.0.0.0/8, ::1), or 'none'."));
        }
        config.trustedProxies = list;
    } else if (key == u"memory_high" || key == u"memory_low") {
        auto value = byteSize(key, text);
        if (!value)
            return value.error();
        (key == u"memory_high" ? config.memoryHighBytes : config.memoryLowBytes) = *value;
    } else if (key == u"job_timeout_seconds") {
        auto value = wholeNumber(key, text, 0, 7 * 86'400); // as --job-timeout-seconds
        if (!value)
            return value.error();
        config.queue.defaultTimeoutMs = *value * 1000;
    } else if (key == u"job_max_attempts") {
        auto value = wholeNumber(key, text, 1, 100);
        if (!value)
            return value.error();
        config.queue.defaultMaxAttempts = int(*value);
    } else {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Unknown setting '%1'.").arg(key),
                         QStringLiteral("Known settings: %1.").arg(keys().join(u", ")));
    }
    return {};
}

QString SettingsService::textOf(const FerryConfig &config, const QString &key)
{
    if (key == u"listen_address") {
        const bool v6 = QHostAddress(config.listenHost).protocol() == QAbstractSocket::IPv6Protocol;
        return (v6 ? u'[' + config.listenHost + u']' : config.listenHost) + u':' +
               QString::number(config.listenPort);
    }
    if (key == u"rate_limit")
        return QString::number(config.rateLimit);
    if (key == u"rate_window_seconds")
        return QString::number(config.rateWindowSeconds);
    if (key == u"trusted_proxies")
        return config.trustedProxies.trimmed().isEmpty() ? QStringLiteral("none")
                                                         : config.trustedProxies.trimmed();
    if (key == u"memory_high")
        return byteText(config.memoryHighBytes);
    if (key == u"memory_low")
        return byteText(config.memoryLowBytes);
    if (key == u"job_timeout_seconds")
        return QString::number(config.queue.defaultTimeoutMs / 1000);
    if (key == u"job_max_attempts")
        return QString::number(config.queue.defaultMaxAttempts);
    return QString();
}

Result<void> SettingsService::validate(const FerryConfig &config)
{
    RateLimitPolicy policy;
    policy.limit = config.rateLimit;
    policy.window = std::chrono::seconds(config.rateWindowSeconds);
    if (auto valid = policy.validate(); !valid)
        return valid;
    return ConcurrencyGovernor::validateWatermarks(config.memoryHighBytes, config.memoryLowBytes);
}

Result<SettingsService::Stored> SettingsService::readStored() const
{
    Stored read{m_configured, {}};
    for (const QString &key : keys()) {
        auto stored = m_store.setting(storeKey(key));
        if (!stored)
            return stored.error();
        if (!stored->has_value() || (*stored)->isEmpty())
            continue;
        FerryConfig candidate = read.effective;
        if (auto set = setText(candidate, key, **stored); !set) {
            qCWarning(lcSettings).noquote()
                << "ignoring the console's setting" << key << "-" << set.error().toString();
            continue;
        }
        read.effective = candidate;
        read.overrides.insert(key, **stored);
    }
    if (auto valid = validate(read.effective); !valid) {
        qCWarning(lcSettings).noquote()
            << "ignoring the console's settings -" << valid.error().toString();
        read = Stored{m_configured, {}};
    }
    return read;
}

Result<void> SettingsService::load()
{
    auto read = readStored();
    if (!read)
        return read.error();
    const QMutexLocker locker(&m_mutex);
    m_effective = read->effective;
    m_overrides = read->overrides;
    return {};
}

Result<QStringList> SettingsService::reload()
{
    const QMutexLocker saving(&m_saveMutex);
    auto read = readStored();
    if (!read)
        return read.error();
    QStringList changed;
    std::set<Group> groups;
    {
        const QMutexLocker locker(&m_mutex);
        for (const QString &key : keys()) {
            if (textOf(read->effective, key) != textOf(m_effective, key)) {
                changed.append(key);
                groups.insert(groupOf(key));
            }
        }
        m_effective = read->effective;
        m_overrides = read->overrides;
    }
    // Outside m_mutex, as commit() does not: an applier may take its own locks, and a reader of
    // settings() must not wait for it.
    for (const Group group : groups) {
        const auto applier = m_appliers.find(group);
        if (applier == m_appliers.end())
            continue; // applies at the next start, as on the node that saved it
        if (auto applied = applier->second(read->effective); !applied) {
            qCWarning(lcSettings).noquote()
                << "a setting saved elsewhere was not applied -" << applied.error().toString();
        }
    }
    return changed;
}

FerryConfig SettingsService::effective() const
{
    const QMutexLocker locker(&m_mutex);
    return m_effective;
}

QList<SettingsService::Setting> SettingsService::settings() const
{
    const QMutexLocker locker(&m_mutex);
    QList<Setting> settings;
    for (const Descriptor &descriptor : Descriptors) {
        const QString key = QLatin1String(descriptor.key);
        Setting setting;
        setting.key = key;
        setting.label = QLatin1String(descriptor.label);
        setting.group = descriptor.group;
        setting.value = textOf(m_effective, key);
        setting.configured = textOf(m_configured, key);
        setting.source = m_overrides.contains(key) ? Source::Console : Source::Configuration;
        setting.live = m_appliers.count(descriptor.group) > 0;
        settings.append(setting);
    }
    return settings;
}

void SettingsService::setApplier(Group group, Applier applier)
{
    const QMutexLocker locker(&m_mutex);
    m_appliers[group] = std::move(applier);
}

Result<SettingsService::SaveOutcome> SettingsService::save(const QHash<QString, QString> &values)
{
    const QMutexLocker saving(&m_saveMutex);
    FerryConfig candidate = effective();
    QHash<QString, QString> stored;
    for (const QString &key : keys()) {
        if (!values.contains(key))
            continue;
        if (auto set = setText(candidate, key, values.value(key)); !set)
            return set.error();
        stored.insert(key, textOf(candidate, key));
    }
    for (auto it = values.cbegin(); it != values.cend(); ++it) {
        if (!descriptorOf(it.key()))
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("Unknown setting '%1'.").arg(it.key()));
    }
    if (auto valid = validate(candidate); !valid)
        return valid.error();
    return commit(candidate, stored);
}

Result<SettingsService::SaveOutcome> SettingsService::revert(const QStringList &keysToRevert)
{
    const QMutexLocker saving(&m_saveMutex);
    FerryConfig candidate = effective();
    QHash<QString, QString> stored;
    for (const QString &key : keysToRevert) {
        if (!descriptorOf(key))
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("Unknown setting '%1'.").arg(key));
        (void)setText(candidate, key, textOf(m_configured, key));
        stored.insert(key, QString()); // no override
    }
    if (auto valid = validate(candidate); !valid)
        return valid.error();
    return commit(candidate, stored);
}

Result<SettingsService::SaveOutcome> SettingsService::commit(const FerryConfig &candidate,
                                                             const QHash<QString, QString> &stored)
{
    const QMutexLocker locker(&m_mutex);
    SaveOutcome outcome;
    std::set<Group> groups;
    for (const QString &key : keys()) {
        if (!stored.contains(key))
            continue;
        const QString text = stored.value(key);
        const bool valueChanged = textOf(candidate, key) != textOf(m_effective, key);
        // A value saved unchanged stays where it comes from (the form sends every field); a
        // revert drops the override even when the value is the same.
        if (text.isEmpty() ? !m_overrides.contains(key) : !valueChanged)
            continue;
        // An empty (not null: the column is NOT NULL) value means "no override".
        if (auto written =
                m_store.setSetting(storeKey(key), text.isEmpty() ? QStringLiteral("") : text);
            !written)
            return written.error();
        if (text.isEmpty())
            m_overrides.remove(key);
        else
            m_overrides.insert(key, text);
        if (valueChanged) {
            outcome.changed.append(key);
            groups.insert(groupOf(key));
        }
    }
    m_effective = candidate;
    for (const QString &key : std::as_const(outcome.changed)) {
        const auto applier = m_appliers.find(groupOf(key));
        (applier == m_appliers.end() ? outcome.afterRestart : outcome.appliedLive).append(key);
    }
    for (const Group group : groups) {
        const auto applier = m_appliers.find(group);
        if (applier == m_appliers.end())
            continue;
        if (auto applied = applier->second(candidate); !applied) {
            return makeError(
                applied.error().code,
                QStringLiteral("Saved, but not applied: %1").arg(applied.error().message),
                QStringLiteral("The saved value applies at the next start."));
        }
    }
    return outcome;
}

} // namespace Ferry
