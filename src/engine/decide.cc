#include "engine/decide.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

namespace ha {

PassState ParsePass(const std::string& text) {
  PassState p;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return p;
  // A hand-edited day outside Day's range is no day (a new pass), never a wrapped one.
  if (j.contains("day") && j["day"].is_number_integer()) {
    const nlohmann::json& d = j["day"];
    const bool fits = d.is_number_unsigned()
                          ? d.get<uint64_t>() <= uint64_t{std::numeric_limits<Day>::max()}
                          : d.get<int64_t>() >= std::numeric_limits<Day>::min() &&
                                d.get<int64_t>() <= std::numeric_limits<Day>::max();
    if (fits) p.day = static_cast<Day>(d.get<int64_t>());
  }
  if (j.contains("started") && j["started"].is_number_integer())
    p.started = j["started"].get<Instant>();
  if (j.contains("after") && j["after"].is_string())
    p.after = ObjectId::FromHex(j["after"].get<std::string>());
  // Progress written before "done" existed meant an unfinished pass.
  p.done = j.contains("done") ? j["done"].is_boolean() && j["done"].get<bool>() : false;
  return p;
}

std::string FormatPass(const PassState& p) {
  nlohmann::json j;
  j["day"] = p.day ? nlohmann::json(*p.day) : nlohmann::json(nullptr);
  j["started"] = p.started;
  j["after"] = p.after ? nlohmann::json(p.after->ToHex()) : nlohmann::json(nullptr);
  j["done"] = p.done;
  return j.dump();
}

std::string FormatGraceWindow(const std::vector<Cursor>& seen) {
  if (seen.empty() || seen.size() > kMaxPersistedVersions) return "";
  nlohmann::json j = nlohmann::json::array();
  for (const Cursor& c : seen) j.push_back({c.updated_at, c.id.ToHex()});
  return j.dump();
}

std::vector<Cursor> ParseGraceWindow(const std::string& text) {
  std::vector<Cursor> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_string()) return {};
    auto id = ObjectId::FromHex(e[1].get<std::string>());
    if (!id) return {};
    out.push_back(Cursor{e[0].get<Instant>(), *id});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Cursor StartCursor(const CheckpointState& state, const EngineOptions& options, Instant now) {
  return state.cursor.value_or(Cursor{
      now - static_cast<int64_t>(options.initial_lookback_days) * kMillisPerDay, ObjectId::Min()});
}

std::optional<Instant> GraceWindowFrom(const CheckpointState& state, const EngineOptions& options) {
  if (!state.watermark) return std::nullopt;
  return *state.watermark - options.late_data_grace_ms;
}

PassDecision DecidePass(const CheckpointState& state, const PollSummary& poll,
                        const EngineOptions& options, Instant now) {
  const Day today = DayOf(now);
  PassDecision d;
  d.pass = ParsePass(state.recompute_progress);
  const PassState& pass = d.pass;
  const bool full = poll.changed >= options.max_batch_docs;
  const bool daily_due = state.last_recompute_day != today;
  const bool reconcile_due = options.reconcile_interval_ms > 0 && pass.done &&
                             now - pass.started >= options.reconcile_interval_ms;
  const bool resume = !pass.done && pass.day == today;
  const bool scheduled = resume && !pass.after;  // scheduled, or begun without progress
  const PassState fresh{today, now, std::nullopt, false};
  if (full && (daily_due || reconcile_due || scheduled) &&
      !(scheduled && now - pass.started >= kMaxBacklogDeferMs)) {
    d.action = PassAction::kDefer;
    if (!scheduled) d.pass = fresh;
  } else if (daily_due || reconcile_due || resume) {
    d.action = PassAction::kRun;
    if (!resume) d.pass = fresh;
  }
  return d;
}

std::optional<PassState> PassToBeginEarly(const CheckpointState& state,
                                          const EngineOptions& options, Instant now) {
  const PassState loaded = ParsePass(state.recompute_progress);
  const bool scheduled = !loaded.done && loaded.day == DayOf(now) && !loaded.after;
  if (scheduled) return std::nullopt;
  const PassDecision d = DecidePass(state, PollSummary{}, options, now);
  if (d.action != PassAction::kRun) return std::nullopt;
  return d.pass;
}

PassSlice SliceOfPass(std::span<const ObjectId> list, const PassState& pass, bool finish,
                      size_t users_per_batch) {
  auto begin = pass.after ? std::upper_bound(list.begin(), list.end(), *pass.after) : list.begin();
  PassSlice s;
  s.begin = static_cast<size_t>(begin - list.begin());
  const size_t left = list.size() - s.begin;
  s.count = finish ? left : std::min(left, users_per_batch);
  s.completes_pass = s.count == left;
  return s;
}

std::vector<Cursor> NextGraceWindow(const std::vector<Cursor>& seen,
                                    const std::deque<PolledVersion>& changed,
                                    const std::deque<PolledVersion>& late,
                                    const Cursor& next_cursor, const EngineOptions& options,
                                    Instant now) {
  const Instant horizon = WatermarkFor(next_cursor.updated_at, now) - options.late_data_grace_ms;
  const Cursor from{horizon + 1, ObjectId::Min()};
  const auto kept = std::lower_bound(seen.begin(), seen.end(), from);
  size_t fresh = 0;
  for (const auto* list : {&changed, &late})
    for (const PolledVersion& v : *list) fresh += v.at.updated_at > horizon ? 1 : 0;
  std::vector<Cursor> out;
  out.reserve(static_cast<size_t>(seen.end() - kept) + fresh);
  out.insert(out.end(), kept, seen.end());
  const auto middle = static_cast<std::ptrdiff_t>(out.size());
  for (const auto* list : {&changed, &late})
    for (const PolledVersion& v : *list)
      if (v.at.updated_at > horizon) out.push_back(v.at);
  std::sort(out.begin() + middle, out.end());
  std::inplace_merge(out.begin(), out.begin() + middle, out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace ha
