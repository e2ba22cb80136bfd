#include "bridges/device.h"

namespace lc {
const char* component_name(Component component) {
  switch (component) {
    case Component::sensor: return "sensor";
    case Component::binary_sensor: return "binary_sensor";
    case Component::switch_: return "switch";
    case Component::select: return "select";
    case Component::number: return "number";
  }
  return "sensor";
}
}  // namespace lc
