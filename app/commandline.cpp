#include "commandline.h"

#include "config/configloader.h"

namespace Ferry {

CommandLine::CommandLine()
{
    m_parser.setApplicationDescription(QStringLiteral(
        "Ferry: an operator console with an embedded multi-user job engine.\n\n"
        "Commands:\n"
        "  (none)                       open the console (headless when there is no display)\n"
        "  --observe --db postgresql://...   open the console on a cluster's database without\n"
        "                               joining it: no jobs, no HTTP port, never the leader\n"
        "  user add NAME [--tier T] [--json]   create a user; prints its API token once\n"
        "  user list [--json]           list users\n"
        "  user disable|enable NAME     refuse or accept a user's token\n"
        "  user token --rotate NAME [--json]   a new API token, printed once; the old one stops\n"
        "  quota set NAME [--uploads N] [--bytes B]   monthly limits (a number, 'unlimited' or\n"
        "                               'default' for the tier's; bytes take K/M/G/T suffixes)\n"
        "  quota show NAME | quota list [--json]   usage this month, limits, reset date\n"
        "  quota reset NAME             forget this month's usage\n"
        "  enqueue TYPE [--count N] [--user NAME] [--priority P] [--payload JSON]\n"
        "                               queue jobs (types: noop, sleep)\n"
        "  import FILE --dataset NAME --user NAME [--format F] [--mapping JSON|@FILE]\n"
        "         [--key FIELD] [--no-header] [--delimiter C] [--priority P] [--json]\n"
        "                               store a file and queue its migration into a dataset\n"
        "  export DATASET --user NAME [--format ndjson|csv]   write a dataset to stdout\n"
        "  dataset list --user NAME [--json]   a user's datasets\n"
        "  dataset show NAME --user NAME [--json]   its schema, key, records, size, imports\n"
        "  dataset delete NAME --user NAME [--records-only] [--yes]\n"
        "                               delete a dataset (or only its records); asks first on\n"
        "                               a terminal, needs --yes otherwise\n"
        "  job ID [--json]              a job's state, attempts and rejected rows\n"
        "  status [--json]              job counts by status\n"
        "  pause | resume               stop or restart starting new jobs\n\n"
        "Commands work on an existing store (the data dir's ferry.db, or --db): one that does\n"
        "not exist is refused, except by 'user add', which creates it and says so. Extra\n"
        "arguments are usage errors (exit code 2). --json prints one JSON document, in the\n"
        "HTTP API's shapes.\n\n"
        "Options also come from FERRY_* environment variables (FERRY_MAX_CONCURRENCY=4) and\n"
        "from <data-dir>/ferry.conf (max-concurrency=4); the command line wins, then the\n"
        "environment, then the file."));
    m_parser.addHelpOption();
    m_parser.addVersionOption();
    m_parser.addOption({QStringLiteral("headless"),
                        QStringLiteral("Run the engine without a window (server mode).")});
    m_parser.addOption({QStringLiteral("observe"),
                        QStringLiteral("Open the console on a cluster's PostgreSQL (--db) as an "
                                       "observer: it runs no job, opens no port and never leads, "
                                       "and steers what every node does.")});
    for (const ConfigLoader::Option &option : ConfigLoader::options()) {
        m_parser.addOption(
            {option.name,
             option.description + QStringLiteral(" [default: %1; env %2]")
                                      .arg(option.defaultText, option.environmentName()),
             option.valueName});
    }
    m_parser.addOption({QStringLiteral("json"), QStringLiteral("Machine-readable output.")});
    m_parser.addOption({QStringLiteral("tier"),
                        QStringLiteral("user add: free, standard or premium."),
                        QStringLiteral("TIER"), QStringLiteral("standard")});
    m_parser.addOption(
        {QStringLiteral("rotate"), QStringLiteral("user token: replace the user's API token.")});
    m_parser.addOption({QStringLiteral("uploads"),
                        QStringLiteral("quota set: monthly uploads (N, unlimited or default)."),
                        QStringLiteral("N")});
    m_parser.addOption({QStringLiteral("bytes"),
                        QStringLiteral("quota set: monthly bytes (B[K|M|G|T], unlimited or "
                                       "default)."),
                        QStringLiteral("B")});
    m_parser.addOption({QStringLiteral("count"), QStringLiteral("enqueue: how many jobs."),
                        QStringLiteral("N"), QStringLiteral("1")});
    m_parser.addOption({QStringLiteral("user"),
                        QStringLiteral("enqueue: the owner (default: the operator user); "
                                       "import, export, dataset: required."),
                        QStringLiteral("NAME")});
    m_parser.addOption({QStringLiteral("priority"),
                        QStringLiteral("enqueue: -100 to 100, higher first."), QStringLiteral("P"),
                        QStringLiteral("0")});
    m_parser.addOption({QStringLiteral("dataset"), QStringLiteral("import: the target dataset."),
                        QStringLiteral("NAME")});
    m_parser.addOption({QStringLiteral("format"),
                        QStringLiteral("import: csv, tsv, ndjson or json (default: detected); "
                                       "export: ndjson or csv."),
                        QStringLiteral("F")});
    m_parser.addOption({QStringLiteral("mapping"),
                        QStringLiteral("import: the mapping as JSON, or @file."),
                        QStringLiteral("JSON")});
    m_parser.addOption({QStringLiteral("key"), QStringLiteral("import: the upsert key field."),
                        QStringLiteral("FIELD")});
    m_parser.addOption({QStringLiteral("no-header"),
                        QStringLiteral("import: the CSV/TSV file has no header row.")});
    m_parser.addOption({QStringLiteral("delimiter"), QStringLiteral("import: the CSV delimiter."),
                        QStringLiteral("C")});
    m_parser.addOption({QStringLiteral("records-only"),
                        QStringLiteral("dataset delete: delete the records, keep the dataset's "
                                       "name and key.")});
    m_parser.addOption(
        {QStringLiteral("yes"), QStringLiteral("dataset delete: do not ask for confirmation.")});
    m_parser.addOption({QStringLiteral("payload"),
                        QStringLiteral("enqueue: the job's JSON payload."), QStringLiteral("JSON"),
                        QStringLiteral("{}")});
}

bool CommandLine::parse(const QStringList &arguments)
{
    return m_parser.parse(arguments);
}

QString CommandLine::helpText() const
{
    return m_parser.helpText();
}

QHash<QString, QString> CommandLine::configOptions() const
{
    QHash<QString, QString> options;
    for (const ConfigLoader::Option &option : ConfigLoader::options()) {
        if (m_parser.isSet(option.name))
            options.insert(option.name, m_parser.value(option.name));
    }
    return options;
}

} // namespace Ferry
