#include "ferryconfig.h"
