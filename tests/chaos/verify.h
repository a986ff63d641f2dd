// The chaos harness's checks, each from the specs and not from the engine's code: analytics
// compared with `compute` over an export, the dead letters every invalid field must produce,
// and the dead-letter log as written.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace ha::chaos {

// Analytics documents keyed by "userIdHex|metricType|timeRange" -> canonical JSON without the
// fields that legitimately differ between runs (_id, metadata, the write instants).
// `duplicates` counts keys seen more than once.
std::map<std::string, std::string> NormalizeAnalytics(const std::vector<std::string>& canonical,
                                                      size_t* duplicates);

// Relaxed Extended JSON lines -> canonical lines (through libbson).
std::vector<std::string> ToCanonical(const std::string& relaxed_lines);

struct Difference {
  std::string key;
  std::string user;      // 24-hex
  std::string expected;  // empty when missing from the expectation (an extra document)
  std::string actual;    // empty when missing from the collection
};
std::vector<Difference> Compare(const std::map<std::string, std::string>& expected,
                                const std::map<std::string, std::string>& actual);

// The dead letters analytics spec section 2 and engine spec section 7 call for, from the
// final healthmetrics documents (canonical Extended JSON): "docIdHex|updatedAtIso|field".
std::set<std::string> ExpectedDeadLetters(const std::vector<std::string>& canonical_healthmetrics);

// Every dead letter in DIR/dead_letters_*.jsonl as "docId|updatedAt|field" -> times written.
std::map<std::string, int> ReadDeadLetters(const std::string& dir);

// Removes every invalid metric value from relaxed Extended JSON healthmetrics lines (the
// seed's deliberate 1%), so that all invalid input in a chaos run comes from the writers.
std::string WithoutInvalidMetrics(const std::string& relaxed_lines);

}  // namespace ha::chaos
