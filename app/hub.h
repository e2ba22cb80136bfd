// HubService moved to app/hub/hub_service.h (the parts of the Hub live in app/hub/); this
// header stays so that existing includes keep working.
#pragma once

#include "app/hub/hub_service.h"
