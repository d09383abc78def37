#pragma once

// What the job API's tests (tst_jobsapi, tst_joblongpoll, tst_jobactions, tst_datasetsapi,
// tst_apiisolation) upload and how they read the answers, over jobsapitestsupport.h's fixture.
#include "jobsapitestsupport.h"

#include <QSet>
#include <QTcpSocket>

#include <thread>

namespace Ferry::Test {

inline QByteArray peopleCsv(int rows, int badRows = 0)
{
    QByteArray csv = "id,name\n";
    for (int i = 1; i <= rows; ++i)
        csv += QByteArray::number(i) + ",name " + QByteArray::number(i) + "\n";
    for (int i = 0; i < badRows; ++i)
        csv += "not-a-number-" + QByteArray::number(i) + ",bad\n";
    return csv;
}

inline QJsonObject peopleMapping()
{
    return QJsonDocument::fromJson("{\"fields\": [{\"name\": \"id\", \"type\": \"integer\", "
                                   "\"required\": true}, {\"name\": \"name\"}], \"key\": \"id\"}")
        .object();
}

inline QList<qint64> jobIds(const QJsonArray &jobs)
{
    QList<qint64> result;
    for (const QJsonValue &job : jobs)
        result.append(job.toObject().value(u"id").toString().toLongLong());
    return result;
}

inline QList<QByteArray> bodyLines(const QByteArray &body, const char *separator)
{
    QList<QByteArray> result = body.split(separator[0]);
    if (!result.isEmpty() && result.last().isEmpty())
        result.removeLast();
    if (separator[0] == '\r') { // CRLF: drop the LF each line but the first starts with
        for (QByteArray &line : result) {
            if (line.startsWith('\n'))
                line.remove(0, 1);
        }
        if (!result.isEmpty() && result.last().isEmpty())
            result.removeLast();
    }
    return result;
}

} // namespace Ferry::Test
