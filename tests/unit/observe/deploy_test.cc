// The deployment files in deploy/: the Prometheus alert rules (promtool), the Grafana dashboard
// (every query parses and names only metrics the engine exports) and the systemd unit
// (systemd-analyze). Tools that are not installed make their test skip, saying which package
// provides them (scripts/setup installs both).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "observe/metrics.h"
#include "prom_text.h"

namespace ha {
namespace {

const std::string kDeploy = std::string(HA_SOURCE_DIR) + "/deploy";

struct ShellRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

ShellRun Shell(const std::string& command) {
  ShellRun r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool Have(const std::string& tool) {
  return Shell("command -v " + tool + " >/dev/null").exit_code == 0;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Scratch(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("ha-deploy-" + std::to_string(getpid()) + "-" + name))
      .string();
}

// Every PromQL expression of the dashboard, with Grafana's variables replaced by values
// Prometheus accepts.
std::vector<std::string> DashboardExpressions() {
  const auto dash = nlohmann::json::parse(Slurp(kDeploy + "/grafana-dashboard.json"));
  std::vector<std::string> out;
  for (const auto& panel : dash.at("panels")) {
    if (!panel.contains("targets")) continue;
    for (const auto& t : panel["targets"]) {
      std::string e = t.at("expr").get<std::string>();
      e = testing_util::ReplaceAll(e, "$__rate_interval", "5m");
      e = testing_util::ReplaceAll(e, "$__interval", "1m");
      e = testing_util::ReplaceAll(e, "$job", ".*");
      e = testing_util::ReplaceAll(e, "$instance", ".*");
      out.push_back(e);
    }
  }
  return out;
}

// The metric families the engine can export (every optional one present).
std::set<std::string> ExportedFamilies() {
  MetricsRegistry m("v", 60, 0);
  BatchReport r;
  r.end_time = 1000;
  r.watermark_to = *ParseInstant("2025-11-20T00:00:00Z");
  m.RecordBatch(r);
  const auto p =
      testing_util::ParsePromText(m.Render(2000, MetricsRegistry::Names::kCurrentAndLegacy));
  std::set<std::string> names;
  for (const auto& [name, f] : p.families) names.insert(name);
  return names;
}

// The metric names an expression uses (health_analytics_* and spark_analytics_*).
std::set<std::string> MetricNames(const std::string& text) {
  std::set<std::string> names;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (const std::string prefix : {"health_analytics_", "spark_analytics_"}) {
    for (size_t pos = 0; (pos = text.find(prefix, pos)) != std::string::npos;) {
      if (pos > 0 && word(text[pos - 1])) {  // part of a longer name
        pos += prefix.size();
        continue;
      }
      size_t end = pos + prefix.size();
      while (end < text.size() &&
             (std::islower(static_cast<unsigned char>(text[end])) || text[end] == '_'))
        ++end;
      std::string n = text.substr(pos, end - pos);
      for (const std::string suffix : {"_bucket", "_sum", "_count"})
        if (n.find("duration_seconds") != std::string::npos && n.size() > suffix.size() &&
            n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
          n.resize(n.size() - suffix.size());
      names.insert(n);
      pos = end;
    }
  }
  return names;
}

TEST(Deploy, AlertRulesPassPromtoolCheckRules) {
  if (!Have("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const ShellRun r = Shell("promtool check rules '" + kDeploy + "/prometheus-alerts.yml'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("SUCCESS"), std::string::npos) << r.output;
}

TEST(Deploy, AlertsFireOnTheInstanceInTroubleOnly) {
  if (!Have("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const ShellRun r = Shell("promtool test rules '" + kDeploy + "/prometheus-alerts.test.yml'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(Deploy, DashboardQueriesParse) {
  if (!Have("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const auto exprs = DashboardExpressions();
  ASSERT_GE(exprs.size(), 10u);
  // promtool parses expressions of rule files: wrap each query in a recording rule.
  std::ostringstream rules;
  rules << "groups:\n  - name: dashboard\n    rules:\n";
  for (size_t i = 0; i < exprs.size(); ++i)
    rules << "      - record: dashboard:query" << i
          << "\n        expr: " << nlohmann::json(exprs[i]).dump() << "\n";
  const std::string path = Scratch("dashboard-rules.yml");
  std::ofstream(path) << rules.str();
  const ShellRun r = Shell("promtool check rules '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << rules.str();
  std::filesystem::remove(path);
}

TEST(Deploy, DashboardAndAlertsUseOnlyExportedMetrics) {
  const std::set<std::string> exported = ExportedFamilies();
  std::string all;
  for (const auto& e : DashboardExpressions()) all += e + "\n";
  const std::set<std::string> dashboard = MetricNames(all);
  const std::set<std::string> alerts = MetricNames(Slurp(kDeploy + "/prometheus-alerts.yml"));
  for (const auto& n : dashboard) EXPECT_TRUE(exported.count(n)) << "dashboard uses " << n;
  for (const auto& n : alerts) EXPECT_TRUE(exported.count(n)) << "alerts use " << n;
  // What the issue asks the dashboard to show.
  for (const char* n : {"health_analytics_batches_total", "health_analytics_batch_duration_seconds",
                        "health_analytics_checkpoint_lag_seconds",
                        "health_analytics_dead_letters_total", "health_analytics_events_total"})
    EXPECT_TRUE(dashboard.count(n)) << "dashboard lacks " << n;
  for (const char* n : {"health_analytics_checkpoint_lag_seconds", "health_analytics_batches_total",
                        "health_analytics_last_success_timestamp_seconds"})
    EXPECT_TRUE(alerts.count(n)) << "alerts lack " << n;
}

TEST(Deploy, SystemdUnitVerifiesAndIsHardened) {
  const std::string unit = Slurp(kDeploy + "/health-analytics.service");
  for (const char* line : {"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                           "ProtectHome=yes", "ReadWritePaths=", "ExecStart=", "DynamicUser=yes"})
    EXPECT_NE(unit.find(line), std::string::npos) << "missing " << line;
  if (!Have("systemd-analyze")) GTEST_SKIP() << "systemd-analyze not installed (package systemd)";
  // verify wants ExecStart's binary to exist: point it at the one just built.
  const std::string dir = Scratch("unit");
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/health-analytics.service";
  std::ofstream(path) << testing_util::ReplaceAll(unit, "/usr/local/bin/health-analytics",
                                                  HA_BINARY);
  const ShellRun verify = Shell("systemd-analyze verify '" + path + "'");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  // verify reports unknown keys and bad values as warnings on the unit file, exit code 0.
  EXPECT_EQ(verify.output.find(path), std::string::npos) << verify.output;
  const ShellRun security = Shell("systemd-analyze security --offline=yes '" + path + "'");
  const std::string label = "Overall exposure level for ";
  const size_t at = security.output.find(label);
  ASSERT_NE(at, std::string::npos) << security.output;
  const size_t colon = security.output.find(": ", at);
  ASSERT_NE(colon, std::string::npos) << security.output;
  EXPECT_LE(std::stod(security.output.substr(colon + 2)), 2.0) << security.output;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ha
