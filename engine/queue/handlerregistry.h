#pragma once

#include "queue/jobhandler.h"

#include <QHash>
#include <QStringList>

#include <memory>

namespace Ferry {

// Job types and their handlers. Filled at wiring time, read-only afterwards (thread-safe reads).
class HandlerRegistry final
{
public:
    void add(const QString &type, std::shared_ptr<JobHandler> handler);
    std::shared_ptr<JobHandler> find(const QString &type) const;
    QStringList types() const;

private:
    QHash<QString, std::shared_ptr<JobHandler>> m_handlers;
};

} // namespace Ferry
