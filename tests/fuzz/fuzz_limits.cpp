// Limit and configuration values as people type them: quota limits (engine/quota/limitparser),
// every option of the configuration (engine/config/configloader, which fills HttpLimits and
// the rest), an upload's parameters (engine/api/uploadparams) and a re-run's options
// (engine/api/migrationoptions). Properties: an accepted limit prints back to the same value
// and is a prefix of itself for the editor's validator; a refused value names the option it
// belongs to; refusals are 400s with Ferry's error shape.

#include "fuzzinput.h"

#include "api/migrationoptions.h"
#include "api/uploadparams.h"
#include "config/configloader.h"
#include "quota/limitparser.h"

#include <QJsonDocument>
#include <QJsonObject>

using namespace Ferry;
using namespace Ferry::Fuzz;

namespace {

void checkLimit(const QString &text, LimitKind kind)
{
    const auto limit = parseLimit(text, kind, QStringLiteral("the limit"));
    if (!limit) {
        FUZZ_CHECK(limit.error().message.contains(QLatin1String("the limit")),
                   "a refused limit does not name the value");
        return;
    }
    FUZZ_CHECK(isLimitPrefix(text.trimmed(), kind), "an accepted limit is not its own prefix");
    if (!*limit)
        return; // "default"
    FUZZ_CHECK(**limit >= -1, "a limit below -1");
    const auto again = parseLimit(limitText(**limit), kind, QStringLiteral("the limit"));
    FUZZ_CHECK(again && *again == *limit, "a limit does not read back from its own text");
    FUZZ_CHECK(!humanBytes(**limit).isEmpty(), "no text for a byte count");
}

void checkRefusal(const Http::Response &response)
{
    FUZZ_CHECK(response.status >= 400 && response.status < 500, "a refusal that is not a 4xx");
    const QJsonObject body = QJsonDocument::fromJson(response.body).object();
    FUZZ_CHECK(!body.value(QLatin1String("message")).toString().isEmpty() &&
                   !body.value(QLatin1String("code")).toString().isEmpty(),
               "a refusal without a message and code");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    const unsigned mode = in.byte() % 4;
    const QByteArray rest = in.restBytes();
    const QString text = QString::fromUtf8(rest);

    if (mode == 0) {
        checkLimit(text, LimitKind::Uploads);
        checkLimit(text, LimitKind::Bytes);
        (void)isLimitPrefix(text, LimitKind::Bytes);
        return 0;
    }
    if (mode == 1) {
        // "name=value\nname=value...": options from the command line, in a data directory that
        // does not exist (nothing is read or created).
        QHash<QString, QString> commandLine;
        for (const QString &line : text.split(u'\n')) {
            const qsizetype equals = line.indexOf(u'=');
            if (equals > 0)
                commandLine.insert(line.left(equals), line.mid(equals + 1));
        }
        commandLine.insert(QStringLiteral("data-dir"), QStringLiteral("/nonexistent/ferry-fuzz"));
        const auto config = ConfigLoader::load(commandLine, QProcessEnvironment(),
                                               ConfigLoader::DataDir::LeaveMissing);
        if (!config) {
            bool named = false;
            for (const ConfigLoader::Option &option : ConfigLoader::options())
                named = named || config.error().message.contains(option.name) ||
                        config.error().message.contains(option.environmentName());
            FUZZ_CHECK(named || config.error().message.contains(QLatin1String("data")),
                       "a refused configuration does not name the option");
        }
        return 0;
    }
    if (mode == 2) {
        // "name=value\n..." as an upload's query parameters or tus metadata.
        UploadParams params;
        for (const QString &line : text.split(u'\n')) {
            const qsizetype equals = line.indexOf(u'=');
            if (equals < 0)
                continue;
            if (auto refused = params.take(line.left(equals), line.mid(equals + 1))) {
                checkRefusal(*refused);
                return 0;
            }
        }
        if (auto incomplete = params.checkComplete()) {
            checkRefusal(*incomplete);
            return 0;
        }
        FUZZ_CHECK(params.canonical() == params.canonical(), "canonical() is not stable");
        (void)params.request(1);
        return 0;
    }
    // A re-run's options: a JSON body.
    const QStringList extra{QStringLiteral("priority")};
    auto parsed = MigrationOptions::parse(rest, extra);
    if (auto *refused = std::get_if<Http::Response>(&parsed)) {
        checkRefusal(*refused);
        return 0;
    }
    const MigrationOptions &options = std::get<MigrationOptions>(parsed);
    const QJsonObject payload = options.applyTo(QJsonObject(), QStringLiteral("blob"));
    FUZZ_CHECK(payload.value(QLatin1String("blob")).toString() == QLatin1String("blob"),
               "the payload lost its blob");
    return 0;
}
