// Failpoints: named pauses inside the engine's steps, for crash tests only.
//
// The chaos harness (tests/chaos) sets HA_FAILPOINTS="name:ms,name:ms" so that a SIGKILL can
// land inside a step that otherwise lasts microseconds (between the bulk write and the
// checkpoint, between the sidecar and the watermark). With the variable unset, a failpoint
// costs one relaxed load of a cached flag. Not an operator setting: it only slows the engine.
#pragma once

#include <string_view>

namespace ha {

// If HA_FAILPOINTS names `name`, writes "failpoint <name>\n" to stderr (unbuffered, so a
// watcher sees it before the pause) and sleeps for the configured milliseconds.
void Failpoint(std::string_view name);

}  // namespace ha
