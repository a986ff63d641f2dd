// Temporary weak definitions of commands still being written, so the binary links meanwhile.
// Each is replaced by the real (strong) definition in its own file. To be deleted.
#include <cstdio>

#include "cli/commands.h"

namespace ha::cli {
namespace {
int NotYet(const char* name) {
  std::fprintf(stderr, "health-analytics: `%s` is not implemented yet\n", name);
  return 2;
}
}  // namespace

__attribute__((weak)) int RunCompute(int, char**) { return NotYet("compute"); }
__attribute__((weak)) int RunSeed(int, char**) { return NotYet("seed"); }
__attribute__((weak)) int RunEngine(int, char**) { return NotYet("run"); }
__attribute__((weak)) int RunCheckpoint(int, char**) { return NotYet("checkpoint"); }
__attribute__((weak)) int RunIndexes(int, char**) { return NotYet("indexes"); }
__attribute__((weak)) int RunRecompute(int, char**) { return NotYet("recompute"); }
__attribute__((weak)) int RunDemo(int, char**) { return NotYet("demo"); }
__attribute__((weak)) int RunDoctor(int, char**) { return NotYet("doctor"); }

}  // namespace ha::cli
