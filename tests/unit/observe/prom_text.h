// A strict reader of the Prometheus text exposition format (0.0.4) for the tests: it parses
// what the registry renders back into families and samples and reports anything malformed.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ha::testing_util {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string help;
  std::string type;
  int help_lines = 0;
  int type_lines = 0;
};

struct PromText {
  std::map<std::string, PromFamily> families;
  std::vector<PromSample> samples;
  std::vector<std::string> errors;  // empty when the text is well-formed

  // The value of the one sample `name` with exactly `labels`, if present.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
  }
};

// `text` with every `from` replaced by `to` (std::regex trips GCC 12's -Wmaybe-uninitialized in
// the sanitizer builds, so the tests do without it).
inline std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
  return text;
}

inline std::optional<double> ParsePromValue(const std::string& v) {
  if (v == "+Inf") return 1.0 / 0.0;
  if (v == "-Inf") return -1.0 / 0.0;
  if (v == "NaN") return 0.0 / 0.0;
  try {
    size_t used = 0;
    const double d = std::stod(v, &used);
    if (used != v.size()) return std::nullopt;
    return d;
  } catch (...) {
    return std::nullopt;
  }
}

// The family a sample belongs to: histogram samples carry _bucket/_sum/_count suffixes.
inline std::string PromFamilyOf(const std::string& sample,
                                const std::map<std::string, PromFamily>& families) {
  if (families.count(sample)) return sample;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      const std::string base = sample.substr(0, sample.size() - s.size());
      auto it = families.find(base);
      if (it != families.end() && (it->second.type == "histogram" || it->second.type == "summary"))
        return base;
    }
  }
  return "";
}

inline PromText ParsePromText(const std::string& text) {
  PromText out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto error = [&](const std::string& what) {
    out.errors.push_back("line " + std::to_string(n) + ": " + what + ": " + line);
  };
  if (!text.empty() && text.back() != '\n') out.errors.push_back("no newline at the end");
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const bool help = line[2] == 'H';
      const std::string rest = line.substr(7);
      const size_t sp = rest.find(' ');
      if (sp == std::string::npos) {
        error("no text after the metric name");
        continue;
      }
      PromFamily& f = out.families[rest.substr(0, sp)];
      if (help) {
        f.help = rest.substr(sp + 1);
        ++f.help_lines;
      } else {
        f.type = rest.substr(sp + 1);
        ++f.type_lines;
        if (f.type != "counter" && f.type != "gauge" && f.type != "histogram" &&
            f.type != "summary" && f.type != "untyped")
          error("unknown type");
      }
      continue;
    }
    if (line[0] == '#') continue;  // a comment
    PromSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          error("malformed label");
          break;
        }
        const std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) {
          error("unterminated label value");
          break;
        }
        if (s.labels.count(key)) error("duplicate label " + key);
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) {
        error("unterminated label set");
        continue;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      error("no value");
      continue;
    }
    const std::string rest = line.substr(i + 1);
    if (rest.find(' ') != std::string::npos) {
      error("more than a value (a timestamp?)");
      continue;
    }
    auto v = ParsePromValue(rest);
    if (!v) {
      error("value is not a number");
      continue;
    }
    s.value = *v;
    if (PromFamilyOf(s.name, out.families).empty()) error("sample before its # TYPE line");
    out.samples.push_back(std::move(s));
  }
  for (const auto& [name, f] : out.families) {
    if (f.help_lines != 1 || f.type_lines != 1)
      out.errors.push_back(name + ": expected one HELP and one TYPE line");
  }
  return out;
}

// Runs `promtool check metrics` on `text`; returns nullopt when promtool is not installed, else
// its exit code and output.
struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

inline std::optional<PromtoolResult> PromtoolCheckMetrics(const std::string& text,
                                                          const std::string& scratch_file) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) return std::nullopt;
  {
    FILE* f = std::fopen(scratch_file.c_str(), "w");
    if (!f) return PromtoolResult{-1, "cannot write " + scratch_file};
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  const std::string cmd = "promtool check metrics < '" + scratch_file + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  PromtoolResult r;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, got);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace ha::testing_util
