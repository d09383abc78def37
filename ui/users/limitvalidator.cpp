#include "ui/users/limitvalidator.h"

namespace Ferry {

LimitValidator::LimitValidator(LimitKind kind, QObject *parent) : QValidator(parent), m_kind(kind)
{}

QValidator::State LimitValidator::validate(QString &input, int &) const
{
    if (parseLimit(input, m_kind, QString()))
        return Acceptable;
    return isLimitPrefix(input, m_kind) ? Intermediate : Invalid;
}

} // namespace Ferry
