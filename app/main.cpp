// Ferry's entry point: parses the command line, picks console, headless or a shell command,
// and wires the engine (and the window) together.
#include "commandline.h"
#include "commands.h"
#include "config/configloader.h"
#include "core/logbuffer.h"
#include "enginehost.h"
#include "signalwatcher.h"
#include "ui/mainwindow.h"

#include <QApplication>
#include <QLoggingCategory>
#include <QProcessEnvironment>
#include <QSettings>

#include <cstdio>
#include <memory>

using namespace Ferry;

namespace {

Q_LOGGING_CATEGORY(lcApp, "ferry.app")

bool hasDisplay()
{
    const auto env = QProcessEnvironment::systemEnvironment();
    return !env.value(QStringLiteral("DISPLAY")).isEmpty() ||
           !env.value(QStringLiteral("WAYLAND_DISPLAY")).isEmpty() ||
           !env.value(QStringLiteral("QT_QPA_PLATFORM")).isEmpty();
}

} // namespace

int main(int argc, char **argv)
{
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));

    CommandLine cli;
    const bool parsed = cli.parse(arguments);
    const bool command = parsed && !cli.positional().isEmpty();
    bool headless = !parsed || command || cli.isSet(QStringLiteral("headless")) ||
                    cli.isSet(QStringLiteral("help")) || cli.isSet(QStringLiteral("version"));
    if (!headless && !hasDisplay()) {
        std::fprintf(stderr, "ferry: no display found (DISPLAY, WAYLAND_DISPLAY and "
                             "QT_QPA_PLATFORM are unset); running headless.\n");
        headless = true;
    }

    std::unique_ptr<QCoreApplication> app(headless ? new QCoreApplication(argc, argv)
                                                   : new QApplication(argc, argv));
    QCoreApplication::setApplicationName(QStringLiteral("ferry"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FERRY_VERSION));
    qSetMessagePattern(QStringLiteral(
        "%{time yyyy-MM-ddTHH:mm:ss.zzz} %{if-debug}debug%{endif}%{if-info}info%{endif}"
        "%{if-warning}warning%{endif}%{if-critical}error%{endif}%{if-fatal}fatal%{endif} "
        "%{category}: %{message}"));
    QLoggingCategory::setFilterRules(QStringLiteral("ferry.*.info=true"));
    // The console's log pane reads recent records from here; stderr keeps the format above.
    LogBuffer log(1000);
    log.install();

    if (!parsed) {
        std::fprintf(stderr, "ferry: %s\nRun 'ferry --help' for usage.\n",
                     qPrintable(cli.errorText()));
        return ExitUsage;
    }
    if (cli.isSet(QStringLiteral("help"))) {
        std::fputs(cli.helpText().toUtf8().constData(), stdout);
        return ExitOk;
    }
    if (cli.isSet(QStringLiteral("version"))) {
        std::printf("ferry %s\n", FERRY_VERSION);
        return ExitOk;
    }

    // Shell commands load the configuration themselves: they refuse a store that does not exist
    // rather than create one (commands.h).
    if (command)
        return runCommand(cli, QProcessEnvironment::systemEnvironment());
    auto config = ConfigLoader::load(cli.configOptions(), QProcessEnvironment::systemEnvironment());
    if (!config) {
        std::fprintf(stderr, "ferry: %s\n", qPrintable(config.error().toString()));
        return ExitUsage;
    }

    // --observe: the console only (a display is needed), on a cluster's PostgreSQL.
    const bool observe = cli.isSet(QStringLiteral("observe"));
    if (observe && headless) {
        std::fprintf(stderr, "ferry: --observe opens the console and needs a display (DISPLAY, "
                             "WAYLAND_DISPLAY or QT_QPA_PLATFORM); it cannot run --headless.\n");
        return ExitUsage;
    }
    if (observe && config->database.backend != DatabaseConfig::Backend::Postgres) {
        std::fprintf(stderr, "ferry: --observe needs a cluster's PostgreSQL database: pass --db "
                             "postgresql://user@host:port/db. On SQLite, open the console with "
                             "'ferry' on the machine that runs the engine.\n");
        return ExitUsage;
    }
    auto host = EngineHost::create(*config,
                                   observe ? EngineHost::Role::Observer : EngineHost::Role::Engine);
    if (!host) {
        std::fprintf(stderr, "ferry: %s\n", qPrintable(host.error().toString()));
        return ExitFailure;
    }
    // Before the engine starts: it registers its node row as it starts, and a SIGTERM after that
    // must stop it the orderly way (the row goes), not by the signal's default action. A signal
    // that arrives while it starts waits in the watcher's pipe and quits the event loop at once.
    // (Until here, opening the store, a signal ends the process: nothing is registered yet.)
    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, app.get(), [](int signal) {
        qCInfo(lcApp) << "signal" << signal << "received; shutting down";
        QCoreApplication::quit();
    });
    if (auto started = (*host)->start(); !started) {
        std::fprintf(stderr, "ferry: %s\n", qPrintable(started.error().toString()));
        // A configuration the engine could only check when starting (a --listen host name that
        // does not resolve) is a configuration error, as the ones the loader finds.
        return started.error().code == ErrorCode::Config ? ExitUsage : ExitFailure;
    }

    std::unique_ptr<MainWindow> window;
    // The console's layout (size, splitters, columns, page, chart range): per user, in
    // ~/.config/ferry/console.ini, whatever the data directory.
    std::unique_ptr<QSettings> windowSettings;
    if (!headless) {
        QGuiApplication::setDesktopFileName(QStringLiteral("dev.ferry.Ferry"));
        windowSettings =
            std::make_unique<QSettings>(QSettings::IniFormat, QSettings::UserScope,
                                        QStringLiteral("ferry"), QStringLiteral("console"));
        EngineHost &engine = **host;
        ConsoleContext context{engine.store(),
                               engine.queue(),
                               engine.dispatcher(), // null when observing
                               engine.users(),
                               engine.quotas(),
                               engine.monitor(),
                               &engine.config(),
                               QString(),
                               nullptr,
                               &log};
        context.metrics = engine.metrics();
        context.nodeId = engine.nodeId();
        context.settings = &engine.settings();
        context.reruns = &engine.reruns();
        context.windowSettings = windowSettings.get();
        if (engine.httpPort() != 0) {
            context.endpoint = QStringLiteral("http://%1:%2/api/v1/")
                                   .arg(engine.config().listenHost)
                                   .arg(engine.httpPort());
        }
        window = std::make_unique<MainWindow>(context);
        window->show();
    } else {
        qCInfo(lcApp) << "running headless; SIGINT or SIGTERM stops it";
    }
    const int rc = app->exec();
    window.reset();
    (*host)->stop();
    qCInfo(lcApp) << "stopped";
    return rc;
}
