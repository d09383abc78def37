#include "datasetstore.h"

#include <QJsonObject>
#include <QRegularExpression>

namespace Ferry {

Result<void> validateDatasetName(const QString &name)
{
    static const QRegularExpression pattern(
        QRegularExpression::anchoredPattern(QStringLiteral("[A-Za-z0-9_-]{1,64}")));
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

QJsonArray datasetSchema(const DatasetInfo &dataset)
{
    QJsonArray schema;
    for (const QJsonValue &column : dataset.columns) {
        const QString name = column.toString();
        QJsonObject field{{QStringLiteral("name"), name}};
        const QJsonArray types = dataset.columnTypes.value(name).toArray();
        if (types.size() == 1) {
            field.insert(QStringLiteral("type"), types.at(0));
        } else if (types.size() > 1) {
            field.insert(QStringLiteral("type"), QStringLiteral("mixed"));
            field.insert(QStringLiteral("types"), types);
        }
        schema.append(field);
    }
    return schema;
}

} // namespace Ferry
