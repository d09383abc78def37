#include "datasetstore.h"

#include <QRegularExpression>

namespace Ferry {

Result<void> validateDatasetName(const QString &name)
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9_-]{1,64}$"));
    if (!pattern.match(name).hasMatch()) {
        QString shown = name.left(80);
        for (QChar &c : shown) {
            if (c.category() == QChar::Other_Control)
                c = u'?';
        }
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("'%1' is not a valid dataset name.").arg(shown),
                         QStringLiteral("Use 1 to 64 letters, digits, '_' or '-'."));
    }
    return {};
}

} // namespace Ferry
