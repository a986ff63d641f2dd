#include "codec/ejson.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include "core/object_id.h"
#include "core/time.h"

namespace ha {
namespace {

// ---------------------------------------------------------------------------------------------
// Reading. A recursive-descent JSON parser that appends straight into a bson_t. It knows the
// Extended JSON wrappers that mongoexport writes for the types healthmetrics and users hold;
// any other `$` wrapper makes it hand the whole line to libbson (kFallback), which knows them
// all. libbson's own parser is ~5x slower, which is why this exists.

constexpr int kMaxDepth = 100;

enum class Outcome { kOk, kError, kFallback };

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Length of the valid UTF-8 sequence starting at p (p < end, *p >= 0x80), or 0 when invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | cp >> 6));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | cp >> 12));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | cp >> 18));
    out->push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <typename Int>
bool ParseIntStrict(std::string_view s, Int* v) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool ParseDoubleString(std::string_view s, double* v) {
  if (s == "NaN") {
    *v = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "Infinity") {
    *v = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Infinity") {
    *v = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s.empty() || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

class Parser {
 public:
  // Parses `text` into `out` (already empty). On kError, message() says why.
  Outcome Parse(std::string_view text, bson_t* out) {
    begin_ = p_ = text.data();
    end_ = text.data() + text.size();
    outcome_ = Outcome::kOk;
    message_.clear();
    SkipWs();
    if (p_ == end_) return Fail("the line holds no JSON object");
    if (*p_ != '{') return Fail("expected '{' (each line must be one JSON object)");
    ++p_;
    if (!ParseMembers(out, 0)) return outcome_;
    SkipWs();
    if (p_ != end_) return Fail("unexpected text after the JSON object");
    return Outcome::kOk;
  }

  const std::string& message() const { return message_; }

 private:
  Outcome Fail(std::string_view why) {
    outcome_ = Outcome::kError;
    message_ = "byte ";
    message_ += std::to_string(p_ - begin_ + 1);
    message_ += ": ";
    message_ += why;
    return outcome_;
  }
  bool Error(std::string_view why) {
    Fail(why);
    return false;
  }
  bool Fallback() {
    outcome_ = Outcome::kFallback;
    return false;
  }

  void SkipWs() {
    while (p_ != end_ && IsWs(*p_)) ++p_;
  }

  bool Expect(char c, std::string_view what) {
    SkipWs();
    if (p_ == end_ || *p_ != c) return Error(what);
    ++p_;
    return true;
  }

  // After the opening quote. The result views the input when the string has no escapes,
  // otherwise `scratch`.
  bool ParseString(std::string* scratch, std::string_view* result) {
    const char* start = p_;
    // Fast scan: plain ASCII up to the closing quote.
    while (p_ != end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *result = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80) break;
      ++p_;
    }
    scratch->assign(start, static_cast<size_t>(p_ - start));
    while (p_ != end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        *result = *scratch;
        return true;
      }
      if (c < 0x20) return Error("control character inside a string (escape it)");
      if (c >= 0x80) {
        const size_t n = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p_),
                                            reinterpret_cast<const unsigned char*>(end_));
        if (n == 0) return Error("invalid UTF-8 inside a string");
        scratch->append(p_, n);
        p_ += n;
        continue;
      }
      if (c != '\\') {
        scratch->push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      ++p_;
      if (p_ == end_) break;
      const char e = *p_++;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          scratch->push_back(e);
          break;
        case 'b':
          scratch->push_back('\b');
          break;
        case 'f':
          scratch->push_back('\f');
          break;
        case 'n':
          scratch->push_back('\n');
          break;
        case 'r':
          scratch->push_back('\r');
          break;
        case 't':
          scratch->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!ParseHex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
              return Error("unpaired UTF-16 surrogate in a \\u escape");
            p_ += 2;
            if (!ParseHex4(&low)) return false;
            if (low < 0xDC00 || low > 0xDFFF)
              return Error("unpaired UTF-16 surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Error("unpaired UTF-16 surrogate in a \\u escape");
          }
          AppendUtf8(cp, scratch);
          break;
        }
        default:
          --p_;
          return Error("invalid escape sequence in a string");
      }
    }
    return Error("unterminated string");
  }

  bool ParseHex4(uint32_t* cp) {
    if (end_ - p_ < 4) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = HexValue(p_[i]);
      if (h < 0) return Error("invalid \\u escape");
      v = v << 4 | static_cast<uint32_t>(h);
    }
    p_ += 4;
    *cp = v;
    return true;
  }

  // Reads a key (after skipping whitespace, at its opening quote) and the ':' after it.
  bool ParseKey(int depth, std::string_view* key) {
    SkipWs();
    if (p_ == end_ || *p_ != '"') return Error("expected a string key");
    ++p_;
    if (!ParseString(&KeyScratch(depth), key)) return false;
    if (key->find('\0') != std::string_view::npos) return Error("a key must not contain NUL");
    return Expect(':', "expected ':' after a key");
  }

  std::string& KeyScratch(int depth) { return key_scratch_[static_cast<size_t>(depth)]; }

  // After '{': the members of a document, appended to `doc`, through the closing '}'.
  bool ParseMembers(bson_t* doc, int depth) {
    SkipWs();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      std::string_view key;
      if (!ParseKey(depth, &key)) return false;
      if (!ParseValue(doc, key, depth)) return false;
      SkipWs();
      if (p_ == end_) return Error("unterminated object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return Error("expected ',' or '}' in an object");
    }
  }

  bool ParseArrayElements(bson_t* array, int depth) {
    SkipWs();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (uint32_t i = 0;; ++i) {
      char buf[16];
      const char* key;
      const size_t len = bson_uint32_to_string(i, &key, buf, sizeof buf);
      if (!ParseValue(array, std::string_view(key, len), depth)) return false;
      SkipWs();
      if (p_ == end_) return Error("unterminated array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return Error("expected ',' or ']' in an array");
    }
  }

  bool Appended(bool ok) { return ok ? true : Error("the document exceeds the BSON size limit"); }

  static int KeyLen(std::string_view key) { return static_cast<int>(key.size()); }

  bool ParseValue(bson_t* parent, std::string_view key, int depth) {
    SkipWs();
    if (p_ == end_) return Error("expected a value");
    const char c = *p_;
    if (c == '"') {
      ++p_;
      std::string_view s;
      if (!ParseString(&value_scratch_, &s)) return false;
      return Appended(
          bson_append_utf8(parent, key.data(), KeyLen(key), s.data(), static_cast<int>(s.size())));
    }
    if (c == '{') {
      ++p_;
      return ParseObjectValue(parent, key, depth);
    }
    if (c == '[') {
      ++p_;
      if (depth + 1 >= kMaxDepth) return Error("nesting deeper than 100 levels");
      bson_t child;
      if (!bson_append_array_begin(parent, key.data(), KeyLen(key), &child)) return Appended(false);
      const bool ok = ParseArrayElements(&child, depth + 1);
      bson_append_array_end(parent, &child);
      return ok;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(parent, key);
    if (Literal("true")) return Appended(bson_append_bool(parent, key.data(), KeyLen(key), true));
    if (Literal("false")) return Appended(bson_append_bool(parent, key.data(), KeyLen(key), false));
    if (Literal("null")) return Appended(bson_append_null(parent, key.data(), KeyLen(key)));
    return Error("expected a value (string, number, object, array, true, false or null)");
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }

  bool ParseNumber(bson_t* parent, std::string_view key) {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return Error("invalid number");
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return Error("invalid number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return Error("invalid number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (integral) {
      int64_t v;
      auto [ptr, ec] = std::from_chars(start, p_, v);
      if (ec == std::errc() && ptr == p_) {
        if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max())
          return Appended(
              bson_append_int32(parent, key.data(), KeyLen(key), static_cast<int32_t>(v)));
        return Appended(bson_append_int64(parent, key.data(), KeyLen(key), v));
      }
      // Beyond int64: a double, as PyMongo and mongoimport read it.
    }
    double d;
    auto [ptr, ec] = std::from_chars(start, p_, d);
    if (ec != std::errc() || ptr != p_) {
      const char* at = p_;
      p_ = start;
      Error("number out of the range of a double");
      p_ = at;
      return false;
    }
    return Appended(bson_append_double(parent, key.data(), KeyLen(key), d));
  }

  // After '{' of a value: a wrapper ({"$oid": ...}) or a subdocument.
  bool ParseObjectValue(bson_t* parent, std::string_view key, int depth) {
    if (depth + 1 >= kMaxDepth) return Error("nesting deeper than 100 levels");
    SkipWs();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      bson_t child;
      if (!bson_append_document_begin(parent, key.data(), KeyLen(key), &child))
        return Appended(false);
      bson_append_document_end(parent, &child);
      return true;
    }
    std::string_view first;
    if (!ParseKey(depth + 1, &first)) return false;
    if (!first.empty() && first[0] == '$') return ParseWrapper(parent, key, first, depth);
    bson_t child;
    if (!bson_append_document_begin(parent, key.data(), KeyLen(key), &child))
      return Appended(false);
    bool ok = ParseValue(&child, first, depth + 1);
    if (ok) {
      SkipWs();
      if (p_ == end_) {
        ok = Error("unterminated object");
      } else if (*p_ == ',') {
        ++p_;
        ok = ParseMembers(&child, depth + 1);
      } else if (*p_ == '}') {
        ++p_;
      } else {
        ok = Error("expected ',' or '}' in an object");
      }
    }
    bson_append_document_end(parent, &child);
    return ok;
  }

  // A string value of a wrapper, e.g. the "..." of {"$oid": "..."}.
  bool WrapperString(std::string_view wrapper, std::string_view* s) {
    SkipWs();
    if (p_ == end_ || *p_ != '"') {
      message_scratch_ = "expected a string after ";
      message_scratch_ += wrapper;
      return Error(message_scratch_);
    }
    ++p_;
    return ParseString(&value_scratch_, s);
  }

  // Expects the '}' that closes a one-key wrapper; anything else is left to libbson.
  bool CloseWrapper() {
    SkipWs();
    if (p_ == end_ || *p_ != '}') return Fallback();
    ++p_;
    return true;
  }

  bool ParseWrapper(bson_t* parent, std::string_view key, std::string_view wrapper, int depth) {
    const char* k = key.data();
    const int kl = KeyLen(key);
    std::string_view s;
    if (wrapper == "$oid") {
      if (!WrapperString(wrapper, &s)) return false;
      const auto id = ObjectId::FromHex(s);
      if (!id) return Error("$oid must be 24 hex digits");
      if (!CloseWrapper()) return false;
      bson_oid_t oid;
      std::memcpy(oid.bytes, id->bytes.data(), 12);
      return Appended(bson_append_oid(parent, k, kl, &oid));
    }
    if (wrapper == "$date") {
      SkipWs();
      int64_t ms;
      if (p_ != end_ && *p_ == '"') {
        ++p_;
        if (!ParseString(&value_scratch_, &s)) return false;
        auto t = ParseInstant(s);
        if (!t.ok()) return Error("$date string is not an ISO-8601 instant");
        ms = *t;
      } else if (p_ != end_ && *p_ == '{') {
        ++p_;
        std::string_view inner;
        if (!ParseKey(depth + 2, &inner)) return false;
        if (inner != "$numberLong") return Fallback();
        if (!WrapperString(inner, &s)) return false;
        if (!ParseIntStrict(s, &ms)) return Error("$numberLong must be a 64-bit integer string");
        if (!CloseWrapper()) return false;
      } else if (p_ != end_ && (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) {
        const char* start = p_;
        while (p_ != end_ && (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) ++p_;
        if (!ParseIntStrict(std::string_view(start, static_cast<size_t>(p_ - start)), &ms))
          return Fallback();
      } else {
        return Fallback();
      }
      if (!CloseWrapper()) return false;
      return Appended(bson_append_date_time(parent, k, kl, ms));
    }
    if (wrapper == "$numberInt") {
      if (!WrapperString(wrapper, &s)) return false;
      int32_t v;
      if (!ParseIntStrict(s, &v)) return Error("$numberInt must be a 32-bit integer string");
      if (!CloseWrapper()) return false;
      return Appended(bson_append_int32(parent, k, kl, v));
    }
    if (wrapper == "$numberLong") {
      if (!WrapperString(wrapper, &s)) return false;
      int64_t v;
      if (!ParseIntStrict(s, &v)) return Error("$numberLong must be a 64-bit integer string");
      if (!CloseWrapper()) return false;
      return Appended(bson_append_int64(parent, k, kl, v));
    }
    if (wrapper == "$numberDouble") {
      if (!WrapperString(wrapper, &s)) return false;
      double v;
      if (!ParseDoubleString(s, &v)) return Error("$numberDouble must be a number string");
      if (!CloseWrapper()) return false;
      return Appended(bson_append_double(parent, k, kl, v));
    }
    if (wrapper == "$numberDecimal") {
      if (!WrapperString(wrapper, &s)) return false;
      bson_decimal128_t dec;
      const std::string text(s);
      if (!bson_decimal128_from_string(text.c_str(), &dec))
        return Error("$numberDecimal is not a decimal number");
      if (!CloseWrapper()) return false;
      return Appended(bson_append_decimal128(parent, k, kl, &dec));
    }
    return Fallback();
  }

  const char* begin_ = nullptr;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  Outcome outcome_ = Outcome::kOk;
  std::string message_;
  std::string message_scratch_;
  std::string value_scratch_;
  std::array<std::string, kMaxDepth + 2> key_scratch_;
};

Status LineError(std::string_view why) {
  std::string m = "invalid Extended JSON at ";
  m += why;
  return InvalidArgument(std::move(m));
}

// ---------------------------------------------------------------------------------------------
// Writing.

void AppendChars(std::string* out, const char* s, size_t n) { out->append(s, n); }

template <typename Int>
void AppendInt(Int v, std::string* out) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  AppendChars(out, buf, static_cast<size_t>(ptr - buf));
}

void AppendDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append(R"({"$numberDouble":"NaN"})");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? R"({"$numberDouble":"Infinity"})" : R"({"$numberDouble":"-Infinity"})");
    return;
  }
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  const size_t n = static_cast<size_t>(ptr - buf);
  AppendChars(out, buf, n);
  // A whole number would read back as an integer: keep it a double.
  if (std::memchr(buf, '.', n) == nullptr && std::memchr(buf, 'e', n) == nullptr) out->append(".0");
}

void Append2(unsigned v, std::string* out) {
  out->push_back(static_cast<char>('0' + v / 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

void AppendDate(int64_t ms, std::string* out) {
  // Relaxed form only for years 1970..9999, as the Extended JSON spec requires.
  constexpr int64_t kYear10000 = 253402300800000LL;  // 10000-01-01T00:00:00Z
  if (ms < 0 || ms >= kYear10000) {
    out->append(R"({"$date":{"$numberLong":")");
    AppendInt(ms, out);
    out->append("\"}}");
    return;
  }
  const Day day = DayOf(ms);
  const int64_t in_day = ms - StartOf(day);
  const CivilDate c = CivilFromDays(day);
  out->append(R"({"$date":")");
  const auto y = static_cast<unsigned>(c.year);
  Append2(y / 100, out);
  Append2(y % 100, out);
  out->push_back('-');
  Append2(c.month, out);
  out->push_back('-');
  Append2(c.day, out);
  out->push_back('T');
  const auto secs = static_cast<unsigned>(in_day / 1000);
  Append2(secs / 3600, out);
  out->push_back(':');
  Append2(secs / 60 % 60, out);
  out->push_back(':');
  Append2(secs % 60, out);
  out->push_back('.');
  const auto milli = static_cast<unsigned>(in_day % 1000);
  out->push_back(static_cast<char>('0' + milli / 100));
  Append2(milli % 100, out);
  out->append("Z\"}");
}

void AppendOid(const bson_oid_t* oid, std::string* out) {
  char hex[25];
  bson_oid_to_string(oid, hex);
  out->append(R"({"$oid":")");
  out->append(hex, 24);
  out->append("\"}");
}

void AppendBase64(const uint8_t* data, uint32_t len, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint32_t i = 0;
  for (; i + 3 <= len; i += 3) {
    const uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8 | data[i + 2];
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[v >> 12 & 63]);
    out->push_back(kAlphabet[v >> 6 & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (len - i == 1) {
    const uint32_t v = uint32_t{data[i]} << 16;
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[v >> 12 & 63]);
    out->append("==");
  } else if (len - i == 2) {
    const uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8;
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[v >> 12 & 63]);
    out->push_back(kAlphabet[v >> 6 & 63]);
    out->push_back('=');
  }
}

void AppendDocument(bson_iter_t* it, bool is_array, std::string* out);

void AppendBinary(const bson_iter_t* it, std::string* out) {
  bson_subtype_t subtype;
  uint32_t len;
  const uint8_t* data;
  bson_iter_binary(it, &subtype, &len, &data);
  out->append(R"({"$binary":{"base64":")");
  AppendBase64(data, len, out);
  out->append(R"(","subType":")");
  static constexpr char kHex[] = "0123456789abcdef";
  const auto st = static_cast<unsigned>(subtype);
  out->push_back(kHex[st >> 4 & 0xF]);
  out->push_back(kHex[st & 0xF]);
  out->append("\"}}");
}

void AppendRegex(const bson_iter_t* it, std::string* out) {
  const char* options = nullptr;
  const char* pattern = bson_iter_regex(it, &options);
  out->append(R"({"$regularExpression":{"pattern":)");
  AppendJsonString(pattern != nullptr ? pattern : "", out);
  out->append(R"(,"options":)");
  AppendJsonString(options != nullptr ? options : "", out);
  out->append("}}");
}

void AppendDbPointer(const bson_iter_t* it, std::string* out) {
  uint32_t len;
  const char* collection;
  const bson_oid_t* oid;
  bson_iter_dbpointer(it, &len, &collection, &oid);
  out->append(R"({"$dbPointer":{"$ref":)");
  AppendJsonString(std::string_view(collection, len), out);
  out->append(R"(,"$id":)");
  AppendOid(oid, out);
  out->append("}}");
}

// {"<key>": "<text>"} for the code and symbol types.
void AppendWrappedString(std::string_view key, const char* text, uint32_t len, std::string* out) {
  out->append(R"({")");
  out->append(key);
  out->append(R"(":)");
  AppendJsonString(std::string_view(text, len), out);
  out->push_back('}');
}

void AppendCodeWithScope(const bson_iter_t* it, std::string* out) {
  uint32_t len, scope_len;
  const uint8_t* scope_data;
  const char* code = bson_iter_codewscope(it, &len, &scope_len, &scope_data);
  out->append(R"({"$code":)");
  AppendJsonString(std::string_view(code, len), out);
  out->append(R"(,"$scope":)");
  bson_t scope;
  bson_iter_t child;
  if (bson_init_static(&scope, scope_data, scope_len) && bson_iter_init(&child, &scope)) {
    AppendDocument(&child, false, out);
  } else {
    out->append("{}");
  }
  out->push_back('}');
}

void AppendTimestamp(const bson_iter_t* it, std::string* out) {
  uint32_t t, i;
  bson_iter_timestamp(it, &t, &i);
  out->append(R"({"$timestamp":{"t":)");
  AppendInt(t, out);
  out->append(R"(,"i":)");
  AppendInt(i, out);
  out->append("}}");
}

void AppendDecimal128(const bson_iter_t* it, std::string* out) {
  bson_decimal128_t dec;
  bson_iter_decimal128(it, &dec);
  char buf[BSON_DECIMAL128_STRING];
  bson_decimal128_to_string(&dec, buf);
  out->append(R"({"$numberDecimal":")");
  out->append(buf);
  out->append("\"}");
}

void AppendNested(const bson_iter_t* it, std::string* out) {
  const bool is_array = bson_iter_type(it) == BSON_TYPE_ARRAY;
  bson_iter_t child;
  if (bson_iter_recurse(it, &child)) {
    AppendDocument(&child, is_array, out);
  } else {
    out->append(is_array ? "[]" : "{}");
  }
}

// The types the service's own documents never hold (code, symbol, regex, ...): canonical forms.
void AppendRareValue(const bson_iter_t* it, std::string* out) {
  uint32_t len;
  switch (bson_iter_type(it)) {
    case BSON_TYPE_BINARY:
      return AppendBinary(it, out);
    case BSON_TYPE_UNDEFINED:
      out->append(R"({"$undefined":true})");
      return;
    case BSON_TYPE_REGEX:
      return AppendRegex(it, out);
    case BSON_TYPE_DBPOINTER:
      return AppendDbPointer(it, out);
    case BSON_TYPE_CODE: {
      const char* code = bson_iter_code(it, &len);
      return AppendWrappedString("$code", code, len, out);
    }
    case BSON_TYPE_SYMBOL: {
      const char* symbol = bson_iter_symbol(it, &len);
      return AppendWrappedString("$symbol", symbol, len, out);
    }
    case BSON_TYPE_CODEWSCOPE:
      return AppendCodeWithScope(it, out);
    case BSON_TYPE_TIMESTAMP:
      return AppendTimestamp(it, out);
    case BSON_TYPE_DECIMAL128:
      return AppendDecimal128(it, out);
    case BSON_TYPE_MAXKEY:
      out->append(R"({"$maxKey":1})");
      return;
    case BSON_TYPE_MINKEY:
      out->append(R"({"$minKey":1})");
      return;
    default:
      out->append("null");
      return;
  }
}

void AppendValue(const bson_iter_t* it, std::string* out) {
  switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE:
      AppendDouble(bson_iter_double(it), out);
      return;
    case BSON_TYPE_UTF8: {
      uint32_t len;
      const char* s = bson_iter_utf8(it, &len);
      AppendJsonString(std::string_view(s, len), out);
      return;
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
      AppendNested(it, out);
      return;
    case BSON_TYPE_OID:
      AppendOid(bson_iter_oid(it), out);
      return;
    case BSON_TYPE_BOOL:
      out->append(bson_iter_bool(it) ? "true" : "false");
      return;
    case BSON_TYPE_DATE_TIME:
      AppendDate(bson_iter_date_time(it), out);
      return;
    case BSON_TYPE_NULL:
      out->append("null");
      return;
    case BSON_TYPE_INT32:
      AppendInt(bson_iter_int32(it), out);
      return;
    case BSON_TYPE_INT64:
      out->append(R"({"$numberLong":")");
      AppendInt(bson_iter_int64(it), out);
      out->append("\"}");
      return;
    default:
      AppendRareValue(it, out);
      return;
  }
}

void AppendDocument(bson_iter_t* it, bool is_array, std::string* out) {
  out->push_back(is_array ? '[' : '{');
  bool first = true;
  while (bson_iter_next(it)) {
    if (!first) out->push_back(',');
    first = false;
    if (!is_array) {
      AppendJsonString(std::string_view(bson_iter_key(it), bson_iter_key_len(it)), out);
      out->push_back(':');
    }
    AppendValue(it, out);
  }
  out->push_back(is_array ? ']' : '}');
}

}  // namespace

Status ParseExtendedJsonLineInto(std::string_view line, bson_t* out) {
  thread_local Parser parser;
  bson_reinit(out);
  switch (parser.Parse(line, out)) {
    case Outcome::kOk:
      return Status::Ok();
    case Outcome::kError:
      bson_reinit(out);
      return LineError(parser.message());
    case Outcome::kFallback:
      break;
  }
  // A wrapper the fast parser does not handle: libbson knows every Extended JSON type. It
  // accepts some things that are not one JSON object (a top-level array, trailing text); the
  // fast parser has already checked the overall shape up to the wrapper.
  bson_reinit(out);
  bson_error_t error;
  bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(line.data()),
                                   static_cast<ssize_t>(line.size()), &error);
  if (doc == nullptr) return LineError(std::string("libbson: ") + error.message);
  const bool ok = bson_concat(out, doc);
  bson_destroy(doc);
  if (!ok) return LineError("libbson: the document exceeds the BSON size limit");
  return Status::Ok();
}

Result<BsonDoc> ParseExtendedJsonLine(std::string_view line) {
  BsonDoc doc;
  Status s = ParseExtendedJsonLineInto(line, doc.get());
  if (!s.ok()) return s;
  return doc;
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p != end) {
    const unsigned char* run = p;
    while (p != end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') ++p;
    out->append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (p == end) break;
    const unsigned char c = *p;
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(p, end);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD: JSON must be valid UTF-8
        ++p;
      } else {
        out->append(reinterpret_cast<const char*>(p), n);
        p += n;
      }
      continue;
    }
    ++p;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
    }
  }
  out->push_back('"');
}

void AppendRelaxedJson(const bson_t* doc, std::string* out) {
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) {
    out->append("{}");
    return;
  }
  AppendDocument(&it, false, out);
}

std::string ToRelaxedJson(const bson_t* doc) {
  std::string out;
  out.reserve(size_t{doc->len} * 2);
  AppendRelaxedJson(doc, &out);
  return out;
}

void AppendValueRelaxedJson(const bson_iter_t* iter, std::string* out) { AppendValue(iter, out); }

std::string ValueToRelaxedJson(const bson_iter_t* iter) {
  std::string out;
  AppendValue(iter, &out);
  return out;
}

}  // namespace ha
