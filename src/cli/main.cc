#include "cli/main.h"

#include <cstdio>
#include <string_view>

#include "core/version.h"

namespace ha::cli {

int Main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "version") {
    std::printf("health-analytics %s\n", kVersion);
    return 0;
  }
  std::fprintf(stderr, "usage: health-analytics version\n");
  return 2;
}

}  // namespace ha::cli
