#include "ui/jobs/jobdetailhtml.h"

#include "ui/jobs/durationtext.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>

namespace Ferry {

namespace {

QString number(qint64 n)
{
    return QLocale(QLocale::English).toString(n);
}

QString timeText(qint64 ms)
{
    return ms > 0 ? QDateTime::fromMSecsSinceEpoch(ms).toString(
                        QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz"))
                  : QStringLiteral("—");
}

// A job's result as labelled figures: a migration's rows, bytes, duration and rate first, then
// whatever else the handler reported, by name.
QString resultHtml(const QJsonObject &result)
{
    QString rows;
    const auto row = [&rows](const QString &label, const QString &value) {
        rows += QStringLiteral("<tr><td>%1</td><td align=right>%2</td></tr>")
                    .arg(label.toHtmlEscaped(), value.toHtmlEscaped());
    };
    QJsonObject rest = result;
    const auto take = [&rest](QStringView key) {
        const QJsonValue value = rest.value(key);
        rest.remove(key);
        return value;
    };
    if (const QJsonValue dataset = take(u"dataset"); dataset.isString())
        row(QStringLiteral("Dataset"), dataset.toString());
    const QJsonValue read = take(u"rowsRead");
    const QJsonValue imported = take(u"rowsImported");
    const QJsonValue rejected = take(u"rowsRejected");
    const QJsonValue bytes = take(u"bytes");
    const QJsonValue duration = take(u"durationMs");
    if (!read.isUndefined())
        row(QStringLiteral("Rows read"), number(read.toInteger()));
    if (!imported.isUndefined())
        row(QStringLiteral("Rows imported"), number(imported.toInteger()));
    if (!rejected.isUndefined())
        row(QStringLiteral("Rows rejected"), number(rejected.toInteger()));
    if (!bytes.isUndefined()) {
        row(QStringLiteral("Bytes"),
            QLocale(QLocale::English)
                .formattedDataSize(bytes.toInteger(), 1, QLocale::DataSizeTraditionalFormat));
    }
    if (!duration.isUndefined()) {
        const qint64 ms = duration.toInteger();
        row(QStringLiteral("Duration"), durationText(ms));
        if (!read.isUndefined() && ms > 0) {
            row(QStringLiteral("Rows per second"),
                number(qint64(double(read.toInteger()) * 1000.0 / double(ms))));
        }
    }
    for (auto it = rest.constBegin(); it != rest.constEnd(); ++it) {
        const QJsonValue value = it.value();
        row(it.key(), value.isString() ? value.toString()
                      : value.isDouble()
                          ? QString::number(value.toDouble(), 'g', 15)
                          : QString::fromUtf8(QJsonDocument::fromVariant(value.toVariant())
                                                  .toJson(QJsonDocument::Compact)));
    }
    return QStringLiteral("<h4>Result</h4><table cellpadding=2>%1</table>").arg(rows);
}

} // namespace

QString jobDetailHtml(const JobDetail &detail)
{
    if (!detail.job)
        return detail.job.error().toString().toHtmlEscaped();
    if (!detail.job->has_value())
        return QStringLiteral("<i>This job no longer exists.</i>");
    const Job &job = **detail.job;
    QString html = QStringLiteral("<h3>Job %1 · %2 · %3</h3>")
                       .arg(job.id)
                       .arg(job.type.toHtmlEscaped(), jobStatusName(job.status));
    html += QStringLiteral("<p>priority %1 · attempts %2 of %3<br>created %4<br>started %5<br>"
                           "finished %6")
                .arg(job.priority)
                .arg(job.attempts)
                .arg(job.maxAttempts)
                .arg(timeText(job.createdAt), timeText(job.startedAt), timeText(job.finishedAt));
    if (!job.sessionId.isEmpty())
        html += QStringLiteral("<br>upload session %1").arg(job.sessionId.toHtmlEscaped());
    html += QStringLiteral("</p>");
    if (!job.error.isEmpty())
        html += QStringLiteral("<p><b>Error:</b> %1</p>").arg(job.error.toHtmlEscaped());
    if (!job.result.isEmpty())
        html += resultHtml(job.result);
    html += QStringLiteral("<h4>Attempts</h4>");
    if (!detail.attempts) {
        html += detail.attempts.error().toString().toHtmlEscaped();
    } else if (detail.attempts->isEmpty()) {
        html += QStringLiteral("<p>None finished yet.</p>");
    } else {
        // Headers and short cells never wrap: a narrow pane scrolls instead of breaking words.
        html += QStringLiteral(
            "<table border=1 cellpadding=3><tr><th nowrap>#</th><th nowrap>node</th>"
            "<th nowrap>started</th><th nowrap>took</th><th nowrap>outcome</th><th>error</th>"
            "</tr>");
        for (const JobAttempt &a : *detail.attempts) {
            html += QStringLiteral("<tr><td nowrap>%1</td><td nowrap>%2</td><td nowrap>%3</td>"
                                   "<td nowrap>%4 ms</td><td nowrap>%5</td><td>%6</td></tr>")
                        .arg(a.attempt)
                        .arg(a.node.toHtmlEscaped(), timeText(a.startedAt))
                        .arg(a.finishedAt - a.startedAt)
                        .arg(a.outcome.toHtmlEscaped(), a.error.toHtmlEscaped());
        }
        html += QStringLiteral("</table>");
    }
    if (!detail.rowErrors) {
        html += detail.rowErrors.error().toString().toHtmlEscaped();
    } else if (!detail.rowErrors->isEmpty()) {
        html += QStringLiteral("<h4>Rejected rows (first %1)</h4>").arg(detail.rowErrors->size());
        html += QStringLiteral(
            "<table border=1 cellpadding=3><tr><th>line</th><th>field</th><th>reason</th></tr>");
        for (const RowError &e : *detail.rowErrors) {
            html += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td></tr>")
                        .arg(e.line)
                        .arg(e.field.toHtmlEscaped(), e.reason.toHtmlEscaped());
        }
        html += QStringLiteral("</table>");
    }
    return html;
}

} // namespace Ferry
