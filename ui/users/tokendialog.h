#pragma once

#include <QDialog>

class QLineEdit;

namespace Ferry {

// Shows a new API token, once, with a Copy button: only its hash is stored, so it cannot be
// shown again.
class TokenDialog final : public QDialog
{
    Q_OBJECT
public:
    TokenDialog(const QString &heading, const QString &token, QWidget *parent = nullptr);
    QString token() const;

private:
    QLineEdit *m_token;
};

} // namespace Ferry
