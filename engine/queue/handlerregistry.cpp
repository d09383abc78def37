#include "handlerregistry.h"

#include <algorithm>

namespace Ferry {

void HandlerRegistry::add(const QString &type, std::shared_ptr<JobHandler> handler)
{
    m_handlers.insert(type, std::move(handler));
}

std::shared_ptr<JobHandler> HandlerRegistry::find(const QString &type) const
{
    return m_handlers.value(type);
}

QStringList HandlerRegistry::types() const
{
    QStringList types = m_handlers.keys();
    std::sort(types.begin(), types.end());
    return types;
}

} // namespace Ferry
