// A chaos writer: a separate process that writes daily metrics the way the upstream app does
// (upserts by (userId, date), `updatedAt` from its own clock), with same-millisecond ties,
// an optional clock lag, some deletes and some invalid fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ha::chaos {

struct WriterOptions {
  std::string uri;
  std::string db;
  int id = 0;                   // distinguishes this writer's invalid-document keys
  std::string users_file;       // one 24-hex user id per line: the users valid writes touch
  int days = 14;                // dates in [today - days + 1, today]
  int64_t lag_ms = 0;           // this writer's clock runs this far behind the real one
  double ops_per_second = 20;   // upper bound on the rate
  double delete_share = 0.04;   // of operations
  double invalid_share = 0.06;  // of operations
  double tie_share = 0.15;      // of operations: a burst of upserts sharing one updatedAt
  uint64_t seed = 1;
  std::string stop_file;  // the writer stops when this file exists (or on SIGTERM)
  std::string log_file;   // one JSON line per acknowledged or uncertain operation
};

// Parses `writer --key value ...` arguments; false on a bad argument.
bool ParseWriterArgs(const std::vector<std::string>& args, WriterOptions* out, std::string* error);
std::vector<std::string> WriterArgs(const WriterOptions& o);

// Runs until the stop file appears or SIGTERM; returns a process exit code.
int RunWriter(const WriterOptions& o);

}  // namespace ha::chaos
