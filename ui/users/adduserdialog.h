#pragma once

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace Ferry {

// Name (checked as UserDirectory::validateName checks it) and tier of a new user.
class AddUserDialog final : public QDialog
{
    Q_OBJECT
public:
    explicit AddUserDialog(QWidget *parent = nullptr);
    QString name() const;
    QString tier() const;

private:
    void check();

    QLineEdit *m_name;
    QComboBox *m_tier;
    QLabel *m_problem;
    QPushButton *m_ok = nullptr;
};

} // namespace Ferry
