#pragma once

#include "config/ferryconfig.h"
#include "core/error.h"

#include <QHash>
#include <QProcessEnvironment>

namespace Ferry {

// Builds a FerryConfig from the command line, the environment and the config file, and
// validates every value: a bad one is refused with its name, where it came from, and the fix.
class ConfigLoader final
{
public:
    struct Option
    {
        QString name;      // command-line name and config-file key: "max-concurrency"
        QString valueName; // for --help
        QString description;
        QString defaultText;
        QString environmentName() const; // FERRY_MAX_CONCURRENCY
    };

    static const QList<Option> &options();
    static QString configFileName() { return QStringLiteral("ferry.conf"); }
    static QString defaultDataDir();

    // Whether load() may create a missing data directory: the engine does; a shell command
    // does not, so that a mistyped --data-dir is refused (app/storecheck.h) instead of becoming
    // a new empty store.
    enum class DataDir { Create, LeaveMissing };

    // commandLine: option name -> value, for the options given on the command line.
    static Result<FerryConfig> load(const QHash<QString, QString> &commandLine,
                                    const QProcessEnvironment &environment,
                                    DataDir dataDir = DataDir::Create);
};

} // namespace Ferry
