#include "ui/consoleicons.h"

#include <QFile>

namespace Ferry {

QIcon consoleIcon(const QString &name)
{
    QIcon bundled;
    for (const int size : {16, 22, 32}) {
        const QString file = QStringLiteral(":/ferry/icons/console/%1-%2.png").arg(name).arg(size);
        if (QFile::exists(file))
            bundled.addFile(file, QSize(size, size));
    }
    return QIcon::fromTheme(name, bundled);
}

QIcon applicationIcon()
{
    QIcon bundled;
    for (const int size : {16, 22, 24, 32, 48, 64, 128, 256})
        bundled.addFile(QStringLiteral(":/ferry/icons/ferry-%1.png").arg(size), QSize(size, size));
    return QIcon::fromTheme(QStringLiteral("dev.ferry.Ferry"), bundled);
}

} // namespace Ferry
