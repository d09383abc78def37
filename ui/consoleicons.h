#pragma once

#include <QIcon>

namespace Ferry {

// The console's icons by their freedesktop names ("media-playback-pause"): the desktop theme's
// icon where the theme has one, else the bundled Tango icon (public domain, 16/22/32 px, in
// resources/icons/console). Ferry's own icon is "ferry".
QIcon consoleIcon(const QString &name);

// The application's icon: the installed theme's dev.ferry.Ferry, else the bundled PNGs.
QIcon applicationIcon();

} // namespace Ferry
