#pragma once
// Small persisted settings (queue paused, rate limits, ...; engine/config/settingsservice.h).

#include "core/error.h"

namespace Ferry {

class SettingStore
{
public:
    virtual ~SettingStore() = default;

    virtual Result<std::optional<QString>> setting(const QString &key) = 0;
    virtual Result<void> setSetting(const QString &key, const QString &value) = 0;

protected:
    SettingStore() = default;
    Q_DISABLE_COPY_MOVE(SettingStore)
};

} // namespace Ferry
