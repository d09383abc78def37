#pragma once

#include "migrate/bytesource.h"
#include "migrate/migrationpayload.h"
#include "store/datasetstore.h"

#include <QJsonArray>
#include <QList>

#include <string>

namespace Ferry {

// A dry run: what an import with these options would make of the first rows of a file, without
// writing anything.
struct PreviewRow
{
    qint64 line = 0;
    std::string record;     // the converted record (JSON text) when the row is accepted
    QList<RowError> errors; // every reason the row would be rejected
};

struct MigrationPreview
{
    QJsonArray columns; // the records' columns (the mapping's, or the header's)
    QList<PreviewRow> rows;
    qint64 rowsValid = 0;
    qint64 rowsRejected = 0;
    bool moreRows = false; // the file goes on past the rows read
    // Why the file could not be imported at all (empty, unreadable from some point on, a
    // mapping naming columns it does not have); empty when nothing stops it.
    QString problem;
};

// Reads up to maxRows rows of `source` as the import of `payload` would, with `keyField` as the
// upsert key (empty: none), and converts each. Bounded by maxRows rows and the readers' own
// per-row limits; a cancelling source (CancellableSource) stops it within one read.
MigrationPreview previewMigration(ByteSource &source,
                                  const MigrationPayload &payload,
                                  const QString &keyField,
                                  int maxRows,
                                  qsizetype maxColumns);

} // namespace Ferry
