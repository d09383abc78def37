#include "ui/windowstate.h"

#include <QComboBox>
#include <QGuiApplication>
#include <QHeaderView>
#include <QMainWindow>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QTableView>

namespace Ferry::WindowState {

namespace {
// "jobspage/jobsSplitter": the object names from the window down to the widget. Empty when the
// widget itself has no name (it is not remembered).
QString keyOf(const QWidget &widget, const QMainWindow &window)
{
    if (widget.objectName().isEmpty())
        return {};
    QStringList names;
    for (const QObject *o = &widget; o && o != &window; o = o->parent()) {
        if (!o->objectName().isEmpty())
            names.prepend(o->objectName());
    }
    return names.join(u'/');
}

template<typename Widget, typename Apply>
void forEachNamed(const QMainWindow &window, Apply apply)
{
    for (Widget *widget : window.findChildren<Widget *>()) {
        const QString key = keyOf(*widget, window);
        if (!key.isEmpty())
            apply(widget, key);
    }
}

bool remembered(const QComboBox *box)
{
    return box->property("ferryRemember").toBool();
}
} // namespace

void restore(QSettings &settings, QMainWindow &window)
{
    if (!window.restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray())) {
        const QScreen *screen =
            window.screen() ? window.screen() : QGuiApplication::primaryScreen();
        if (screen) {
            const QRect available = screen->availableGeometry();
            const QSize size = (available.size() * 0.85).expandedTo(QSize(800, 500));
            window.resize(size.boundedTo(available.size()));
            window.move(available.center() - window.rect().center());
        }
    }
    window.restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    forEachNamed<QSplitter>(window, [&](QSplitter *splitter, const QString &key) {
        splitter->restoreState(settings.value(QStringLiteral("splitters/") + key).toByteArray());
    });
    forEachNamed<QTableView>(window, [&](QTableView *table, const QString &key) {
        table->horizontalHeader()->restoreState(
            settings.value(QStringLiteral("columns/") + key).toByteArray());
    });
    forEachNamed<QComboBox>(window, [&](QComboBox *box, const QString &key) {
        const QVariant index = settings.value(QStringLiteral("choices/") + key);
        if (remembered(box) && index.isValid() && index.toInt() >= 0 &&
            index.toInt() < box->count())
            box->setCurrentIndex(index.toInt());
    });
}

void save(QSettings &settings, const QMainWindow &window)
{
    settings.setValue(QStringLiteral("window/geometry"), window.saveGeometry());
    settings.setValue(QStringLiteral("window/state"), window.saveState());
    forEachNamed<QSplitter>(window, [&](QSplitter *splitter, const QString &key) {
        settings.setValue(QStringLiteral("splitters/") + key, splitter->saveState());
    });
    forEachNamed<QTableView>(window, [&](QTableView *table, const QString &key) {
        settings.setValue(QStringLiteral("columns/") + key, table->horizontalHeader()->saveState());
    });
    forEachNamed<QComboBox>(window, [&](QComboBox *box, const QString &key) {
        if (remembered(box))
            settings.setValue(QStringLiteral("choices/") + key, box->currentIndex());
    });
    settings.sync();
}

} // namespace Ferry::WindowState
