// Days and instants, always UTC.
//
// An Instant is milliseconds since 1970-01-01T00:00:00Z (what a BSON Date holds).
// A Day is a count of days since 1970-01-01 (a UTC calendar day).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ha {

using Instant = int64_t;  // milliseconds since the Unix epoch, UTC
using Day = int32_t;      // days since 1970-01-01, UTC

inline constexpr int64_t kMillisPerDay = 86'400'000;

// The UTC calendar day that contains `t` (floor division: instants before 1970 work too).
constexpr Day DayOf(Instant t) {
  return static_cast<Day>(t >= 0 ? t / kMillisPerDay : (t + 1) / kMillisPerDay - 1);
}

// 00:00:00.000Z of `d`.
constexpr Instant StartOf(Day d) { return static_cast<Instant>(d) * kMillisPerDay; }

// Days since the epoch of a proleptic Gregorian civil date (month 1..12, day 1..31).
constexpr Day DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<Day>(era * 146097 + static_cast<int64_t>(doe) - 719468);
}

struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

constexpr CivilDate CivilFromDays(Day z32) {
  int64_t z = z32;
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

// "2025-11-20T10:00:45.123Z": ISO-8601 UTC with exactly three fraction digits.
std::string FormatInstant(Instant t);

// "20251120": the UTC date of `t`, for daily file names.
std::string FormatYmd(Instant t);

// Parses the one timestamp grammar the engine accepts everywhere (watermark file, --now,
// `checkpoint reset --to`): YYYY-MM-DD, 'T' (or 't' or a space), HH:MM[:SS], then 0 to 9
// fraction digits (truncated to milliseconds), then 'Z', '+HH:MM', '-HH:MM' (also +HHMM / +HH)
// or nothing (read as UTC). Surrounding whitespace, including a trailing newline, is allowed.
// A bare date "YYYY-MM-DD" is also accepted as its midnight UTC. The instant must lie in the
// years 0000..9999 UTC (an offset could move it out), so that FormatInstant writes it back in
// this grammar. Returns InvalidArgument naming the text when it does not match.
Result<Instant> ParseInstant(std::string_view text);

// True when the text carries an explicit zone (Z or an offset). Only meaningful for text that
// ParseInstant accepts; `doctor` uses it to spot watermarks written in local time.
bool HasExplicitZone(std::string_view text);

// Milliseconds since the epoch, from the system clock.
Instant NowMillis();

// A monotonic clock in microseconds, for durations (a batch's phases); not an instant.
int64_t MonotonicMicros();

}  // namespace ha
