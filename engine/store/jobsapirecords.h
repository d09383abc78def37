#pragma once

#include "store/records.h"

#include <string>
#include <vector>

namespace Ferry {

// Values the upload and job API reads through the store (see the block at the end of Store).

// The job that reads an upload session's file.
struct SessionJob
{
    qint64 jobId = 0;
    JobStatus status = JobStatus::Pending;
};

// One page of a dataset's records, in id (insertion) order.
struct RecordPage
{
    std::vector<std::string> docs; // UTF-8 JSON text
    qint64 lastId = 0;             // the cursor for the next page; 0 when the page is empty
};

} // namespace Ferry
