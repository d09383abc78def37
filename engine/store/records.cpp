#include "records.h"

#include <array>

namespace Ferry {

namespace {
constexpr std::array s_statusNames{u"pending", u"running",   u"completed",
                                   u"failed",  u"cancelled", u"dead"};
}

QString jobStatusName(JobStatus status)
{
    return QString::fromUtf16(s_statusNames[size_t(status)]);
}

std::optional<JobStatus> jobStatusFromName(const QString &name)
{
    for (size_t i = 0; i < s_statusNames.size(); ++i) {
        if (name == QStringView(s_statusNames[i]))
            return JobStatus(i);
    }
    return std::nullopt;
}

bool isTerminal(JobStatus status)
{
    return status != JobStatus::Pending && status != JobStatus::Running;
}

} // namespace Ferry
