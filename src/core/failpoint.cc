#include "core/failpoint.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

namespace ha {
namespace {

// HA_FAILPOINTS, parsed once: "name:ms,name:ms" (a malformed entry is ignored).
const std::map<std::string, int, std::less<>>& Configured() {
  static const std::map<std::string, int, std::less<>> points = [] {
    std::map<std::string, int, std::less<>> out;
    const char* env = std::getenv("HA_FAILPOINTS");
    if (env == nullptr) return out;
    std::string_view rest(env);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t colon = item.find(':');
      if (colon == std::string_view::npos || colon == 0) continue;
      const std::string ms(item.substr(colon + 1));
      char* end = nullptr;
      const long v = std::strtol(ms.c_str(), &end, 10);
      if (end == ms.c_str() || *end != '\0' || v < 0 || v > 600'000) continue;
      out.emplace(std::string(item.substr(0, colon)), static_cast<int>(v));
    }
    return out;
  }();
  return points;
}

}  // namespace

void Failpoint(std::string_view name) {
  const auto& points = Configured();
  if (points.empty()) return;
  const auto it = points.find(name);
  if (it == points.end()) return;
  const std::string line = "failpoint " + std::string(name) + "\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(it->second));
}

}  // namespace ha
