#pragma once

#include <QtGlobal>

namespace Ferry {

// A dataset's records have ids (dataset id << 40) + n, computed by the store (see the datasets
// migration): each dataset is one range of the records' primary key, in insertion order.
constexpr int RecordIdShift = 40;

constexpr qint64 firstRecordId(qint64 datasetId)
{
    return datasetId << RecordIdShift;
}

constexpr qint64 lastRecordId(qint64 datasetId)
{
    return ((datasetId + 1) << RecordIdShift) - 1;
}

} // namespace Ferry
