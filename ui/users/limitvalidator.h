#pragma once

#include "quota/limitparser.h"

#include <QValidator>

namespace Ferry {

// An editor's check of a quota limit (engine/quota/limitparser.h): a non-negative whole number,
// "unlimited" or "default"; byte limits also with K, M, G, T suffixes. "-5" and "abc" are
// Invalid (cannot be typed); "unl" is Intermediate (cannot be committed).
class LimitValidator final : public QValidator
{
    Q_OBJECT
public:
    explicit LimitValidator(LimitKind kind, QObject *parent = nullptr);
    State validate(QString &input, int &pos) const override;

private:
    LimitKind m_kind;
};

} // namespace Ferry
