// The command-line front door: picks the command and runs it. Returns the process exit code.
#pragma once

namespace ha::cli {

int Main(int argc, char** argv);

}  // namespace ha::cli
