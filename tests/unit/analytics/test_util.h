// Helpers shared by the analytics unit tests: build a user's history day by day, and find one
// metric in a result.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "analytics/kernel.h"

namespace ha::testing {

// 2025-11-20 (see tests/unit/core/time_test.cc for the arithmetic).
inline constexpr Day kToday = 20412;

inline ObjectId Oid(uint8_t last) {
  ObjectId id;
  id.bytes[11] = last;
  return id;
}

inline constexpr uint8_t Bit(Metric m) { return static_cast<uint8_t>(1u << static_cast<int>(m)); }

// One document per day, built metric by metric (values already classified as observations).
class History {
 public:
  // Marks `v` as the observation of `m` on day `d`.
  History& Set(Day d, Metric m, double v) {
    DayRecord& r = Get(d);
    r.observed |= Bit(m);
    r.value[static_cast<int>(m)] = v;
    return *this;
  }
  // Observations of `m` on consecutive days starting at `first`; NaN marks a day without one.
  History& Run(Metric m, Day first, const std::vector<double>& values) {
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isnan(values[i])) Set(first + static_cast<Day>(i), m, values[i]);
    }
    return *this;
  }
  std::vector<DayRecord> Records() const {
    std::vector<DayRecord> out;
    for (const auto& [day, r] : days_) out.push_back(r);
    return out;
  }

 private:
  DayRecord& Get(Day d) {
    auto [it, inserted] = days_.try_emplace(d);
    if (inserted) {
      it->second.day = d;
      it->second.id = Oid(1);
      it->second.updated_at = StartOf(d) + 3'600'000;  // one hour into the day
    }
    return it->second;
  }
  std::map<Day, DayRecord> days_;
};

inline constexpr double kGap = std::numeric_limits<double>::quiet_NaN();

inline const MetricAnalytics* Find(const UserAnalytics& u, Metric m) {
  for (const auto& a : u.metrics)
    if (a.metric == m) return &a;
  return nullptr;
}

inline bool Contains(const std::vector<Metric>& v, Metric m) {
  return std::find(v.begin(), v.end(), m) != v.end();
}

// Copies, so that a result computed in the same expression cannot dangle.
inline MetricAnalytics Of(const UserAnalytics& u, Metric m) {
  const MetricAnalytics* a = Find(u, m);
  if (a == nullptr) {
    ADD_FAILURE() << "no analytics for " << MetricInfoOf(m).name;
    return {};
  }
  return *a;
}
inline RangeAnalytics R7(const MetricAnalytics& a) { return a.ranges[0]; }
inline RangeAnalytics R30(const MetricAnalytics& a) { return a.ranges[1]; }
inline RangeAnalytics R90(const MetricAnalytics& a) { return a.ranges[2]; }

inline UserAnalytics Compute(const History& h, const AnalyticsOptions& o = {},
                             const Goals& g = DefaultGoals(), Day today = kToday) {
  const std::vector<DayRecord> records = h.Records();
  return ComputeUser(records, g, today, o);
}

}  // namespace ha::testing
