#include "tests/chaos/verify.h"

#include <bson/bson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "core/time.h"

namespace ha::chaos {
namespace {

using nlohmann::json;

// Analytics spec section 2: the analysed metrics and their valid ranges (inclusive).
struct Range {
  const char* name;
  double lo, hi;
};
constexpr Range kRanges[] = {{"steps", 0, 100000},    {"distance", 0, 500},
                             {"calories", 0, 10000},  {"activeMinutes", 0, 1440},
                             {"heartPoints", 0, 500}, {"weight", 30, 300},
                             {"sleepHours", 0, 24},   {"hydration", 0, 10}};
constexpr const char* kWearable[] = {"heartRate", "oxygenSaturation", "bloodOxygen"};

const Range* RangeOf(std::string_view name) {
  for (const Range& r : kRanges)
    if (name == r.name) return &r;
  return nullptr;
}
bool IsWearable(std::string_view name) {
  for (const char* w : kWearable)
    if (name == w) return true;
  return false;
}

// A canonical Extended JSON number ({"$numberInt": ...} etc.) -> its value; false otherwise.
bool CanonicalNumber(const json& v, double* out) {
  if (!v.is_object() || v.size() != 1) return false;
  for (const char* k : {"$numberInt", "$numberLong", "$numberDouble"}) {
    if (v.contains(k)) {
      const std::string s = v[k].get<std::string>();
      if (s == "NaN")
        *out = std::nan("");
      else if (s == "Infinity")
        *out = INFINITY;
      else if (s == "-Infinity")
        *out = -INFINITY;
      else
        *out = std::stod(s);
      return true;
    }
  }
  return false;
}

bool IsCanonicalDate(const json& v) { return v.is_object() && v.contains("$date"); }
bool IsOid(const json& v) { return v.is_object() && v.contains("$oid"); }

std::string DateIso(const json& v) {
  const json& d = v["$date"];
  if (d.is_object()) return FormatInstant(std::stoll(d["$numberLong"].get<std::string>()));
  auto p = ParseInstant(d.get<std::string>());
  return p.ok() ? FormatInstant(*p) : d.get<std::string>();
}

}  // namespace

std::map<std::string, std::string> NormalizeAnalytics(const std::vector<std::string>& canonical,
                                                      size_t* duplicates) {
  std::map<std::string, std::string> out;
  *duplicates = 0;
  for (const std::string& line : canonical) {
    json j = json::parse(line);
    j.erase("_id");
    j.erase("metadata");
    for (const char* f : {"calculatedAt", "expiresAt", "updatedAt", "createdAt"}) j.erase(f);
    if (j["analytics"].contains("anomalyDetails"))
      j["analytics"]["anomalyDetails"].erase("detectedAt");
    const std::string key = j["userId"]["$oid"].get<std::string>() + "|" +
                            j["metricType"].get<std::string>() + "|" +
                            j["timeRange"].get<std::string>();
    if (!out.emplace(key, j.dump()).second) ++*duplicates;
  }
  return out;
}

std::vector<std::string> ToCanonical(const std::string& relaxed_lines) {
  std::vector<std::string> out;
  std::istringstream in(relaxed_lines);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    bson_error_t error;
    bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(line.data()),
                                     static_cast<ssize_t>(line.size()), &error);
    if (!doc) throw std::runtime_error(std::string("unreadable compute output: ") + error.message);
    char* c = bson_as_canonical_extended_json(doc, nullptr);
    out.emplace_back(c);
    bson_free(c);
    bson_destroy(doc);
  }
  return out;
}

std::vector<Difference> Compare(const std::map<std::string, std::string>& expected,
                                const std::map<std::string, std::string>& actual) {
  std::vector<Difference> out;
  auto user_of = [](const std::string& key) { return key.substr(0, key.find('|')); };
  for (const auto& [key, doc] : expected) {
    auto it = actual.find(key);
    if (it == actual.end())
      out.push_back({key, user_of(key), doc, ""});
    else if (it->second != doc)
      out.push_back({key, user_of(key), doc, it->second});
  }
  for (const auto& [key, doc] : actual)
    if (!expected.count(key)) out.push_back({key, user_of(key), "", doc});
  return out;
}

std::set<std::string> ExpectedDeadLetters(const std::vector<std::string>& canonical) {
  std::set<std::string> out;
  for (const std::string& line : canonical) {
    const json j = json::parse(line);
    const std::string id = IsOid(j["_id"]) ? j["_id"]["$oid"].get<std::string>() : j["_id"].dump();
    const std::string at =
        j.contains("updatedAt") && IsCanonicalDate(j["updatedAt"]) ? DateIso(j["updatedAt"]) : "-";
    auto add = [&](const std::string& field) { out.insert(id + "|" + at + "|" + field); };
    if (!j.contains("userId") || j["userId"].is_null()) continue;  // never read
    bool usable = true;
    if (!IsOid(j["userId"])) {
      add("userId");
      usable = false;
    }
    if (!j.contains("date") || j["date"].is_null() || !IsCanonicalDate(j["date"])) {
      add("date");
      usable = false;
    }
    if (!usable || !j.contains("metrics") || j["metrics"].is_null()) continue;
    const json& m = j["metrics"];
    if (!m.is_object() || IsCanonicalDate(m) || m.contains("$numberInt")) {
      add("metrics");
      continue;
    }
    for (const auto& [name, v] : m.items()) {
      if (IsWearable(name)) {
        if (!v.is_null()) add("metrics." + name);
        continue;
      }
      const Range* r = RangeOf(name);
      if (!r || v.is_null()) continue;
      double x;
      if (!CanonicalNumber(v, &x) || !std::isfinite(x) || x < r->lo || x > r->hi)
        add("metrics." + name);
    }
  }
  return out;
}

std::map<std::string, int> ReadDeadLetters(const std::string& dir) {
  std::map<std::string, int> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("dead_letters_", 0) != 0) continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const json j = json::parse(line);
      auto text = [&](const char* k) {
        return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string("-");
      };
      std::string key = text("doc_id") + "|" + text("updated_at") + "|" + text("field");
      if (text("doc_id") == "-") key += "|" + text("user_id") + "|" + text("reason");  // whole user
      ++out[key];
    }
  }
  return out;
}

std::string WithoutInvalidMetrics(const std::string& relaxed_lines) {
  std::string out;
  std::istringstream in(relaxed_lines);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json j = json::parse(line);
    if (j.contains("metrics") && j["metrics"].is_object()) {
      json& m = j["metrics"];
      std::vector<std::string> drop;
      for (const auto& [name, v] : m.items()) {
        const Range* r = RangeOf(name);
        if (IsWearable(name))
          drop.push_back(name);
        else if (r && !v.is_null() &&
                 (!v.is_number() || v.get<double>() < r->lo || v.get<double>() > r->hi))
          drop.push_back(name);
      }
      for (const std::string& name : drop) m.erase(name);
    }
    out += j.dump() + "\n";
  }
  return out;
}

}  // namespace ha::chaos
