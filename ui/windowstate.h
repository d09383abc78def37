#pragma once

class QMainWindow;
class QSettings;

namespace Ferry {

// The console's layout across starts, kept in a QSettings the app passes in: the window's
// geometry and its tool bar and dock state, every named splitter's positions, every named
// table's column widths and order, and each combo box marked with the property "ferryRemember"
// (the chart range). Widgets are keyed by the chain of object names from the window down
// ("jobspage/jobsSplitter"), so two pages may use the same name.
namespace WindowState {

// Without saved geometry the window takes most of its screen (85% of the available area), so a
// large screen is used and a small one is not overflowed.
void restore(QSettings &settings, QMainWindow &window);
void save(QSettings &settings, const QMainWindow &window);

} // namespace WindowState
} // namespace Ferry
