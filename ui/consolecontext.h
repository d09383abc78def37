#pragma once

#include <QString>

class QSettings;
class QThreadPool;

namespace Ferry {

class Dispatcher;
class LogBuffer;
class JobQueue;
class QuotaLedger;
class ResourceMonitor;
class SettingsService;
class Store;
class UploadReruns;
class UserDirectory;
struct FerryConfig;

// What the console's pages work with: the engine's public classes, built and owned by the app
// (app/enginehost). Pages read the store on `readers` (never on the GUI thread) and listen to the
// engine's signals through queued connections.
struct ConsoleContext
{
    Store &store;
    JobQueue &queue;
    Dispatcher &dispatcher;
    UserDirectory &users;
    QuotaLedger &quotas;
    ResourceMonitor *monitor = nullptr; // null when the engine runs without one (tests)
    const FerryConfig *config = nullptr;
    QString endpoint;               // "http://127.0.0.1:8080/api/v1/", empty when not listening
    QThreadPool *readers = nullptr; // the console's store reads; set by MainWindow
    LogBuffer *log = nullptr;       // recent engine log records for the log pane; may be null
    SettingsService *settings = nullptr; // Settings page; null: the page only shows the config
    UploadReruns *reruns = nullptr;      // the Jobs page's "Run again"; null: not offered
    QSettings *windowSettings = nullptr; // the window's remembered layout; null: not remembered
};

} // namespace Ferry
