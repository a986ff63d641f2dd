// Fuzzes ParseInstant (core/time.h), the one timestamp grammar of the watermark file, --now and
// `checkpoint reset --to` (engine spec section 3), against an independent reading of that
// grammar, and checks FormatInstant -> ParseInstant round trips and HasExplicitZone.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "core/time.h"
#include "fuzz_util.h"

namespace {

using ha::Instant;

// The grammar of core/time.h, written as a regular expression: YYYY-MM-DD, then optionally
// 'T'/'t'/' ', HH:MM[:SS[(.|,)F{1,9}]] and a zone (Z, z, +HH:MM, +HHMM, +HH, same with '-'),
// with surrounding whitespace.
const std::regex& Grammar() {
  static const std::regex re(
      R"(^[ \t\n\v\f\r]*([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2}))"
      R"((?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?)?)"
      R"([ \t\n\v\f\r]*$)",
      std::regex::ECMAScript | std::regex::optimize);
  return re;
}

int64_t Num(const std::ssub_match& m) { return m.matched ? std::stoll(m.str()) : 0; }

// The instant the grammar gives `text`, or nullopt when it does not match or names an
// impossible date, time or offset.
std::optional<Instant> Reference(const std::string& text) {
  std::smatch m;
  if (!std::regex_match(text, m, Grammar())) return std::nullopt;
  const int64_t y = Num(m[1]), mo = Num(m[2]), d = Num(m[3]);
  const int64_t h = Num(m[4]), mi = Num(m[5]), s = Num(m[6]);
  if (mo < 1 || mo > 12) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d < 1 || d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  if (h > 23 || mi > 59 || s > 59) return std::nullopt;
  int64_t ms = 0;
  if (m[7].matched) ms = std::stoll((m[7].str() + "00").substr(0, 3));
  int64_t offset = 0;
  if (m[9].matched) {
    const int64_t oh = Num(m[10]), om = Num(m[11]);
    if (oh > 23 || om > 59) return std::nullopt;
    offset = (m[9].str() == "-" ? -1 : 1) * (oh * 60 + om);
  }
  const Instant t =
      ha::StartOf(ha::DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))) +
      ((h * 60 + mi - offset) * 60 + s) * 1000 + ms;
  // Years 0000..9999 UTC only: what FormatInstant can write back.
  if (t < ha::StartOf(ha::DaysFromCivil(0, 1, 1)) ||
      t >= ha::StartOf(ha::DaysFromCivil(10000, 1, 1)))
    return std::nullopt;
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto parsed = ha::ParseInstant(text);

  if (size <= 256) {  // std::regex recurses per character
    const std::optional<Instant> expected = Reference(text);
    if (parsed.ok() != expected.has_value())
      ha::fuzz::Fail(parsed.ok() ? "ParseInstant accepts text outside the grammar"
                                 : "ParseInstant rejects text of the grammar",
                     text);
    if (parsed.ok() && *parsed != *expected)
      ha::fuzz::Fail("ParseInstant and the grammar disagree on the instant", text);
  }
  if (!parsed.ok()) {
    if (ha::HasExplicitZone(text)) ha::fuzz::Fail("a zone found in unparsable text", text);
    return 0;
  }

  // What the engine writes back (the watermark file, `checkpoint reset --to`) must read as the
  // same instant.
  const Instant t = *parsed;
  const std::string formatted = ha::FormatInstant(t);
  const auto again = ha::ParseInstant(formatted);
  if (!again.ok() || *again != t)
    ha::fuzz::Fail("FormatInstant writes " + formatted + ", which does not parse back", text);
  if (!ha::HasExplicitZone(formatted)) ha::fuzz::Fail("FormatInstant writes no zone", text);

  // A zone-less timestamp is read as UTC: adding "Z" changes nothing.
  if (!ha::HasExplicitZone(text)) {
    std::string_view trimmed = text;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
      trimmed.remove_suffix(1);
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
      trimmed.remove_prefix(1);
    if (trimmed.size() > 10) {  // a bare date takes no zone
      const auto utc = ha::ParseInstant(std::string(trimmed) + "Z");
      if (!utc.ok() || *utc != t) ha::fuzz::Fail("text without a zone is not read as UTC", text);
    }
  }
  return 0;
}
