#include "api/jobjson.h"

#include "core/jsontext.h"

#include <QJsonDocument>

namespace Ferry {

void appendJobJson(std::string &out, const Job &job)
{
    bool first = true;
    auto key = [&](const char *name) {
        if (!first)
            out.push_back(',');
        first = false;
        out.push_back('"');
        out.append(name);
        out.append("\":");
    };
    auto text = [&](const char *name, const QString &value, bool nullIfEmpty) {
        key(name);
        if (nullIfEmpty && value.isEmpty())
            out.append("null");
        else
            appendJsonString(out, value.toStdString());
    };
    auto number = [&](const char *name, qint64 value, bool nullIfZero) {
        key(name);
        if (nullIfZero && value <= 0)
            out.append("null");
        else
            out.append(std::to_string(value));
    };
    auto object = [&](const char *name, const QJsonObject &value, bool nullIfEmpty) {
        key(name);
        if (nullIfEmpty && value.isEmpty())
            out.append("null");
        else
            out.append(QJsonDocument(value).toJson(QJsonDocument::Compact).toStdString());
    };
    out.push_back('{');
    text("id", QString::number(job.id), false);
    text("type", job.type, false);
    text("status", jobStatusName(job.status), false);
    number("priority", job.priority, false);
    number("attempts", job.attempts, false);
    number("maxAttempts", job.maxAttempts, false);
    text("sessionId", job.sessionId, true);
    object("progress", job.progress, false);
    text("error", job.error, true);
    object("result", job.result, true);
    number("createdAt", job.createdAt, true);
    number("startedAt", job.startedAt, true);
    number("finishedAt", job.finishedAt, true);
    out.push_back('}');
}

QByteArray jobBody(const Job &job)
{
    std::string out;
    out.reserve(384);
    out.append("{\"success\":true,\"job\":");
    appendJobJson(out, job);
    out.push_back('}');
    return QByteArray(out.data(), qsizetype(out.size()));
}

} // namespace Ferry
