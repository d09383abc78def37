#pragma once

#include <QString>

class QSettings;
class QThreadPool;

namespace Ferry {

class Dispatcher;
class LogBuffer;
class JobQueue;
class MetricFeed;
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
    // This node's dispatcher; null in a console that observes a cluster (`ferry --observe`):
    // no job runs there, and the pages show the cluster's figures instead.
    Dispatcher *dispatcher;
    UserDirectory &users;
    QuotaLedger &quotas;
    ResourceMonitor *monitor = nullptr; // null when the engine runs without one (tests, observer)
    const FerryConfig *config = nullptr;
    QString endpoint;               // "http://127.0.0.1:8080/api/v1/", empty when not listening
    QThreadPool *readers = nullptr; // the console's store reads; set by MainWindow
    LogBuffer *log = nullptr;       // recent engine log records for the log pane; may be null
    SettingsService *settings = nullptr; // Settings page; null: the page only shows the config
    UploadReruns *reruns = nullptr;      // the Jobs page's "Run again"; null: not offered
    QSettings *windowSettings = nullptr; // the window's remembered layout; null: not remembered
    // The charts' samples: the monitor's, or (observer) the cluster's; null: the monitor's.
    MetricFeed *metrics = nullptr;
    QString nodeId = {}; // this process's node id; empty: the dispatcher's

    bool observing() const { return dispatcher == nullptr; }
    MetricFeed *chartFeed() const;
    QString thisNode() const;
};

} // namespace Ferry
