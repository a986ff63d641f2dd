// One entry point per command. Each takes the arguments after the program name (argv[0] is the
// command's own name), declares its needs and work to the runner (cli/runner.h) and returns the
// process exit code the runner maps (0 ok, 1 failed, 2 usage or configuration, 3 no server,
// 4 checkpoint locked).
#pragma once

namespace ha::cli {

int RunCompute(int argc, char** argv);     // compute.cc
int RunSeed(int argc, char** argv);        // seed.cc
int RunEngine(int argc, char** argv);      // run / once: engine_commands.cc
int RunCheckpoint(int argc, char** argv);  // checkpoint show|reset: checkpoint_command.cc
int RunIndexes(int argc, char** argv);     // indexes: engine_commands.cc
int RunRecompute(int argc, char** argv);   // recompute: engine_commands.cc
int RunDemo(int argc, char** argv);        // demo: demo.cc
int RunDoctor(int argc, char** argv);      // doctor: doctor.cc

}  // namespace ha::cli
