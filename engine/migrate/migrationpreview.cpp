#include "migrationpreview.h"

#include "migrate/migrationrows.h"

namespace Ferry {

MigrationPreview previewMigration(ByteSource &source,
                                  const MigrationPayload &payload,
                                  const QString &keyField,
                                  int maxRows,
                                  qsizetype maxColumns)
{
    MigrationPreview preview;
    MigrationRows rows(source, payload, keyField, maxColumns);
    if (auto started = rows.start(); !started) {
        preview.problem = started.error().toString();
        return preview;
    }
    preview.columns = rows.columns();
    MigrationRows::Row row;
    while (true) {
        const auto status = rows.next(row);
        if (status == MigrationRows::Status::End)
            break;
        if (status == MigrationRows::Status::Failed) {
            preview.problem = rows.error().message;
            break;
        }
        if (preview.rows.size() >= maxRows) {
            preview.moreRows = true;
            break;
        }
        PreviewRow shown;
        shown.line = row.line;
        if (row.accepted()) {
            shown.record = std::move(row.record.doc);
            ++preview.rowsValid;
        } else {
            shown.errors = std::move(row.errors);
            ++preview.rowsRejected;
        }
        preview.rows.append(std::move(shown));
    }
    if (preview.rows.isEmpty() && preview.problem.isEmpty())
        preview.problem = QStringLiteral("The file has no rows: there is nothing to import.");
    return preview;
}

} // namespace Ferry
