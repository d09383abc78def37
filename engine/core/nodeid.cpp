#include "nodeid.h"

#include <QCoreApplication>
#include <QRandomGenerator>
#include <QSysInfo>

namespace Ferry {

QString makeNodeId()
{
    return QStringLiteral("%1:%2:%3")
        .arg(QSysInfo::machineHostName())
        .arg(QCoreApplication::applicationPid())
        .arg(QRandomGenerator::system()->generate(), 8, 16, QLatin1Char('0'));
}

} // namespace Ferry
