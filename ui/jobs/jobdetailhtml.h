#pragma once

#include "store/datasetstore.h"
#include "store/records.h"

#include <QList>
#include <QString>

#include <optional>

namespace Ferry {

// The Jobs page's detail pane: its reads, done together on the reader pool.
struct JobDetail
{
    Result<std::optional<Job>> job = std::optional<Job>{};
    Result<QList<JobAttempt>> attempts = QList<JobAttempt>{};
    Result<QList<RowError>> rowErrors = QList<RowError>{};
};

// The detail pane's HTML: the job, its result as labelled figures, its attempts and its
// rejected rows.
QString jobDetailHtml(const JobDetail &detail);

} // namespace Ferry
