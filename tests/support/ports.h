// Loopback ports for test servers.
#pragma once

namespace ha::testing {

// A loopback port nobody listens on now (bound to port 0 and released; another process could
// take it before the caller does, which the kernel makes unlikely). Throws std::runtime_error
// when none can be bound.
int FreePort();

}  // namespace ha::testing
