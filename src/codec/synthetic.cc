#include "codec/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

namespace ha {
namespace {

// splitmix64: tiny, fast, and its output is fixed by its definition on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n).
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Chance(double p) { return Uniform() < p; }
  // Approximately standard normal (Irwin-Hall with 4 terms): plain arithmetic only, so the
  // result does not depend on the platform's libm.
  double Normal() {
    return (Uniform() + Uniform() + Uniform() + Uniform() - 2.0) * 1.7320508075688772;
  }

 private:
  uint64_t state_;
};

uint64_t Mix(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xD1B54A32D192ED03ULL));
  r.Next();
  return r.Next();
}

double RoundTo(double v, double step) { return std::round(v / step) * step; }

// How the upstream Node.js app stores a JS number: int32 when it is a whole number that fits,
// a double otherwise.
void AppendJsNumber(bson_t* d, const char* key, double v) {
  if (std::isfinite(v) && v == std::trunc(v) && v >= -2147483648.0 && v <= 2147483647.0) {
    BSON_APPEND_INT32(d, key, static_cast<int32_t>(v));
  } else {
    BSON_APPEND_DOUBLE(d, key, v);
  }
}

// ObjectIds as a driver makes them: 4-byte big-endian seconds, 5 bytes fixed per process
// (here per seed), a 3-byte counter.
class IdMaker {
 public:
  explicit IdMaker(uint64_t seed) {
    Rng r(Mix(seed, 0x1D));
    const uint64_t v = r.Next();
    for (int i = 0; i < 5; ++i) process_[i] = static_cast<uint8_t>(v >> (8 * i));
    counter_ = static_cast<uint32_t>(r.Next() & 0xFFFFFF);
  }
  bson_oid_t Make(Instant at) {
    bson_oid_t oid;
    const auto secs = static_cast<uint32_t>(std::max<Instant>(at, 0) / 1000);
    oid.bytes[0] = static_cast<uint8_t>(secs >> 24);
    oid.bytes[1] = static_cast<uint8_t>(secs >> 16);
    oid.bytes[2] = static_cast<uint8_t>(secs >> 8);
    oid.bytes[3] = static_cast<uint8_t>(secs);
    std::memcpy(oid.bytes + 4, process_, 5);
    const uint32_t c = counter_++ & 0xFFFFFF;
    oid.bytes[9] = static_cast<uint8_t>(c >> 16);
    oid.bytes[10] = static_cast<uint8_t>(c >> 8);
    oid.bytes[11] = static_cast<uint8_t>(c);
    return oid;
  }

 private:
  uint8_t process_[5];
  uint32_t counter_;
};

// One user's habits, drawn once.
struct Profile {
  bool inactive;    // signed up, never logged anything
  double log_prob;  // chance of a document on a given day
  double base_steps;
  double weekend_factor;  // Saturday and Sunday
  double stride_km;
  double bmr;
  double weight_prob, weight0, weight_drift;  // kg, kg per day
  double sleep_prob, sleep_base;
  double hydration_prob, hydration_base;
  int source;  // preferred: 0 googlefit, 1 manual, 2 import
};

constexpr std::string_view kSources[] = {"googlefit", "manual", "import"};

Profile DrawProfile(Rng& r) {
  Profile p;
  p.inactive = r.Chance(0.02);
  p.log_prob = r.Uniform(0.55, 0.98);
  p.base_steps = r.Uniform(2500, 14000);
  p.weekend_factor = r.Uniform(0.6, 1.35);
  p.stride_km = r.Uniform(0.00065, 0.00085);
  p.bmr = r.Uniform(1450, 2300);
  p.weight_prob = r.Chance(0.6) ? r.Uniform(0.15, 0.9) : 0.0;
  p.weight0 = r.Uniform(50, 115);
  p.weight_drift = r.Uniform(-0.035, 0.02);
  p.sleep_prob = r.Uniform(0.4, 0.95);
  p.sleep_base = r.Uniform(5.8, 8.6);
  p.hydration_prob = r.Uniform(0.15, 0.8);
  p.hydration_base = r.Uniform(1.0, 3.0);
  const double s = r.Uniform();
  p.source = s < 0.6 ? 0 : (s < 0.9 ? 1 : 2);
  return p;
}

void AppendGoals(bson_t* user, Rng& r, int index) {
  static constexpr double kSteps[] = {6000, 7500, 8000, 10000, 12000, 15000};
  static constexpr double kDistance[] = {3, 4.5, 5, 6.5, 8};
  static constexpr double kCalories[] = {1800, 2000, 2200, 2500};
  static constexpr double kSleep[] = {7, 7.5, 8, 8.5};
  const double kind = r.Uniform();
  if (kind < 0.35) return;  // no goals at all: the defaults apply
  bson_t goals;
  BSON_APPEND_DOCUMENT_BEGIN(user, "goals", &goals);
  if (kind < 0.70) {  // every goal
    AppendJsNumber(&goals, "stepGoal", kSteps[r.Below(std::size(kSteps))]);
    AppendJsNumber(&goals, "distanceGoal", kDistance[r.Below(std::size(kDistance))]);
    AppendJsNumber(&goals, "calorieGoal", kCalories[r.Below(std::size(kCalories))]);
    AppendJsNumber(&goals, "sleepGoal", kSleep[r.Below(std::size(kSleep))]);
  } else if (kind < 0.90) {  // some goals
    AppendJsNumber(&goals, "stepGoal", kSteps[r.Below(std::size(kSteps))]);
    if (r.Chance(0.5)) AppendJsNumber(&goals, "sleepGoal", kSleep[r.Below(std::size(kSleep))]);
  } else {  // odd goals that must fall back to the defaults
    switch (index % 5) {
      case 0:
        BSON_APPEND_UTF8(&goals, "stepGoal", "10000");
        break;
      case 1:
        BSON_APPEND_INT32(&goals, "stepGoal", 0);
        AppendJsNumber(&goals, "sleepGoal", 7.5);
        break;
      case 2:
        BSON_APPEND_INT32(&goals, "distanceGoal", -5);
        break;
      case 3:
        BSON_APPEND_NULL(&goals, "calorieGoal");
        AppendJsNumber(&goals, "stepGoal", 9000);
        break;
      default:
        break;  // goals: {}
    }
  }
  bson_append_document_end(user, &goals);
}

// An instant uniformly in [lo, hi] (hi >= lo).
Instant Between(Rng& r, Instant lo, Instant hi) {
  return lo + static_cast<Instant>(r.Below(static_cast<uint64_t>(hi - lo) + 1));
}

void AppendMetrics(bson_t* doc, Rng& r, const Profile& p, Day day, int day_index,
                   double today_fraction) {
  bson_t m;
  BSON_APPEND_DOCUMENT_BEGIN(doc, "metrics", &m);
  const int weekday = static_cast<int>(((day + 4) % 7 + 7) % 7);  // 0 = Sunday
  const bool weekend = weekday == 0 || weekday == 6;
  double steps = p.base_steps * (weekend ? p.weekend_factor : 1.0) * (1.0 + 0.22 * r.Normal());
  if (r.Chance(0.02)) steps *= r.Uniform(2.2, 3.4);  // a hike, a race
  steps = std::clamp(std::round(steps * today_fraction), 0.0, 95000.0);
  const bool no_activity = r.Chance(0.04);  // the user left the activity fields blank: 0s
  if (no_activity) steps = 0;
  const double weight = RoundTo(p.weight0 + p.weight_drift * day_index + 0.3 * r.Normal(), 0.1);

  const double invalid = r.Uniform();
  // steps
  if (invalid < 0.0025) {
    BSON_APPEND_UTF8(&m, "steps", std::to_string(static_cast<int>(steps)).c_str());
  } else if (invalid < 0.0045) {
    BSON_APPEND_INT32(&m, "steps", 150000);  // out of range
  } else if (!r.Chance(0.03)) {
    AppendJsNumber(&m, "steps", steps);
  }
  // distance
  if (!r.Chance(0.04)) AppendJsNumber(&m, "distance", RoundTo(steps * p.stride_km, 0.01));
  // calories
  if (invalid >= 0.0045 && invalid < 0.0065) {
    BSON_APPEND_DOUBLE(&m, "calories", std::numeric_limits<double>::quiet_NaN());
  } else if (!r.Chance(0.03)) {
    const double kcal = no_activity ? 0.0
                                    : (p.bmr * today_fraction + steps * 0.04 * (weight / 70.0)) *
                                          (1.0 + 0.05 * r.Normal());
    AppendJsNumber(&m, "calories", RoundTo(std::max(kcal, 0.0), 0.1));
  }
  // activeMinutes, heartPoints
  const double active = std::min(std::round(steps / 120.0 * r.Uniform(0.7, 1.3)), 1440.0);
  AppendJsNumber(&m, "activeMinutes", active);
  AppendJsNumber(&m, "heartPoints", std::min(std::round(active * r.Uniform(0.4, 0.8)), 500.0));
  // weight: absent or null on days it is not logged
  if (r.Chance(p.weight_prob)) {
    AppendJsNumber(&m, "weight", std::clamp(weight, 30.0, 300.0));
  } else if (r.Chance(0.5)) {
    BSON_APPEND_NULL(&m, "weight");
  }
  // sleepHours
  if (invalid >= 0.0065 && invalid < 0.0075) {
    BSON_APPEND_INT32(&m, "sleepHours", 30);  // out of range
  } else if (r.Chance(p.sleep_prob)) {
    AppendJsNumber(&m, "sleepHours",
                   RoundTo(std::clamp(p.sleep_base + 0.8 * r.Normal(), 3.0, 11.0), 0.25));
  }
  // hydration
  if (r.Chance(p.hydration_prob)) {
    AppendJsNumber(&m, "hydration",
                   RoundTo(std::clamp(p.hydration_base + 0.5 * r.Normal(), 0.2, 5.0), 0.1));
  }
  // a wearable-only field from a watch synced through the phone
  if (invalid >= 0.0075 && invalid < 0.0105)
    AppendJsNumber(&m, "heartRate", std::round(r.Uniform(55, 95)));
  bson_append_document_end(doc, &m);
}

}  // namespace

void GenerateSeedData(const SeedOptions& options, SeedSink* sink) {
  const Day today = DayOf(options.now);
  const Day first_day = today - std::max(options.days, 0) + 1;
  IdMaker ids(options.seed);
  bson_t doc;
  bson_init(&doc);
  for (int u = 0; u < options.users; ++u) {
    Rng r(Mix(options.seed, static_cast<uint64_t>(u) + 1));
    const Profile p = DrawProfile(r);

    // The user signed up some time before the first day of data.
    const Instant signed_up =
        StartOf(first_day - 1 - static_cast<Day>(r.Below(400))) + Between(r, 0, kMillisPerDay - 1);
    const Instant user_updated =
        std::min(options.now, signed_up + Between(r, 0, 30 * kMillisPerDay));
    bson_reinit(&doc);
    const bson_oid_t user_id = ids.Make(signed_up);
    BSON_APPEND_OID(&doc, "_id", &user_id);
    const std::string n = std::to_string(u + 1);
    BSON_APPEND_UTF8(&doc, "name", ("Synthetic User " + n).c_str());
    BSON_APPEND_UTF8(&doc, "email", ("user" + n + "@example.com").c_str());
    AppendGoals(&doc, r, u);
    BSON_APPEND_DATE_TIME(&doc, "createdAt", signed_up);
    BSON_APPEND_DATE_TIME(&doc, "updatedAt", user_updated);
    BSON_APPEND_INT32(&doc, "__v", 0);
    sink->OnUser(&doc);
    if (p.inactive) continue;

    int vacation_left = 0;
    for (Day day = first_day; day <= today; ++day) {
      const int day_index = day - first_day;
      if (vacation_left > 0) {
        --vacation_left;
        continue;
      }
      if (r.Chance(0.01)) {  // away for a few days
        vacation_left = 2 + static_cast<int>(r.Below(8));
        continue;
      }
      if (!r.Chance(p.log_prob)) continue;

      const Instant midnight = StartOf(day);
      const Instant latest = std::min(midnight + kMillisPerDay - 1, options.now);
      const Instant earliest = std::min(midnight + Instant{6} * 3600 * 1000, latest);
      const Instant created = Between(r, earliest, latest);
      Instant updated = created;
      if (r.Chance(0.1))
        updated = std::min(options.now, created + Between(r, 3600'000, 3 * kMillisPerDay));
      // Today is not over: activity so far scales with the time of the last sync.
      const double today_fraction =
          day == today ? std::max(0.05, static_cast<double>(updated - midnight) / kMillisPerDay)
                       : 1.0;
      int source = p.source;
      if (r.Chance(0.05)) source = static_cast<int>(r.Below(3));

      bson_reinit(&doc);
      const bson_oid_t id = ids.Make(created);
      BSON_APPEND_OID(&doc, "_id", &id);
      BSON_APPEND_OID(&doc, "userId", &user_id);
      BSON_APPEND_DATE_TIME(&doc, "date", midnight);
      AppendMetrics(&doc, r, p, day, day_index, today_fraction);
      BSON_APPEND_UTF8(&doc, "source", kSources[source].data());
      BSON_APPEND_DATE_TIME(&doc, "createdAt", created);
      BSON_APPEND_DATE_TIME(&doc, "updatedAt", updated);
      BSON_APPEND_INT32(&doc, "__v", 0);
      sink->OnMetric(&doc);
    }
  }
  bson_destroy(&doc);
}

}  // namespace ha
