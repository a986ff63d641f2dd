#include "core/time.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>

namespace ha {

std::string FormatInstant(Instant t) {
  const Day d = DayOf(t);
  const int64_t ms_of_day = t - StartOf(d);
  const CivilDate c = CivilFromDays(d);
  const int64_t h = ms_of_day / 3'600'000, mi = ms_of_day / 60'000 % 60, s = ms_of_day / 1000 % 60,
                ms = ms_of_day % 1000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.year, c.month, c.day, h, mi, s,
                     ms);
}

std::string FormatYmd(Instant t) {
  const CivilDate c = CivilFromDays(DayOf(t));
  return fmt::format("{:04}{:02}{:02}", c.year, c.month, c.day);
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Reads exactly `n` digits at `pos`; false when they are not there.
bool Digits(std::string_view s, size_t& pos, int n, int64_t& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

constexpr unsigned DaysInMonth(int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Parses the zone suffix at `pos` (may be empty). Returns false on junk.
bool ParseZone(std::string_view s, size_t pos, int64_t& offset_minutes, bool& explicit_zone) {
  offset_minutes = 0;
  explicit_zone = false;
  if (pos == s.size()) return true;
  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
    explicit_zone = true;
    return true;
  }
  if (s[pos] != '+' && s[pos] != '-') return false;
  const int sign = s[pos] == '-' ? -1 : 1;
  ++pos;
  int64_t hh = 0, mm = 0;
  if (!Digits(s, pos, 2, hh)) return false;
  if (pos < s.size()) {  // minutes, after an optional ':' ("+05:" is not an offset)
    if (s[pos] == ':') ++pos;
    if (!Digits(s, pos, 2, mm)) return false;
  }
  if (pos != s.size() || hh > 23 || mm > 59) return false;
  offset_minutes = sign * (hh * 60 + mm);
  explicit_zone = true;
  return true;
}

struct Parsed {
  Instant instant;
  bool explicit_zone;
};

std::optional<Parsed> ParseImpl(std::string_view raw) {
  const std::string_view s = Trim(raw);
  size_t pos = 0;
  int64_t y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
  if (!Digits(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, mo) ||
      pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, static_cast<unsigned>(mo)))
    return std::nullopt;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!Digits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' || !Digits(s, pos, 2, mi))
      return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!Digits(s, pos, 2, sec)) return std::nullopt;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        int n = 0;
        int64_t frac = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (n < 3) frac = frac * 10 + (s[pos] - '0');
          ++n;
          ++pos;
        }
        if (n == 0 || n > 9) return std::nullopt;
        for (int i = n; i < 3; ++i) frac *= 10;
        ms = frac;
      }
    }
    if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  } else if (pos != s.size()) {
    return std::nullopt;
  }
  int64_t offset = 0;
  bool explicit_zone = false;
  if (!ParseZone(s, pos, offset, explicit_zone)) return std::nullopt;
  const Instant t = StartOf(DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))) +
                    ((h * 60 + mi - offset) * 60 + sec) * 1000 + ms;
  // An offset can push 0000-01-01 or 9999-12-31 out of the four-digit years FormatInstant can
  // write back in this grammar.
  if (t < StartOf(DaysFromCivil(0, 1, 1)) || t >= StartOf(DaysFromCivil(10000, 1, 1)))
    return std::nullopt;
  return Parsed{t, explicit_zone};
}

}  // namespace

Result<Instant> ParseInstant(std::string_view text) {
  if (auto p = ParseImpl(text)) return p->instant;
  return InvalidArgument(
      fmt::format("'{}' is not a timestamp; expected ISO-8601 such as 2025-11-20T10:00:45.123Z "
                  "(date, 'T', time, optional fraction, then Z, +HH:MM, -HH:MM or nothing for UTC)",
                  Trim(text)));
}

bool HasExplicitZone(std::string_view text) {
  auto p = ParseImpl(text);
  return p && p->explicit_zone;
}

Instant NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t MonotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace ha
