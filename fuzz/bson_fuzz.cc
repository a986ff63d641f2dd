// Fuzzes the BSON decoders of the docs layer on arbitrary documents, as a server could hand
// them over: DecodeHealthMetric (docs/healthmetric.h), DecodeUser and DecodeGoals (docs/user.h),
// and ToRelaxedJson (docs/ejson.h). The input's first four bytes are overwritten with its length
// and its last byte with 0, so that most inputs reach the element parser; the decoders run
// whether or not bson_validate accepts the document (libbson's iterators are bounds-checked and
// the decoders must cope with whatever they yield). Checked:
//   - DecodeHealthMetric's promises: a skipped document has no issues, a document that does not
//     take part has at least one, every observed value is one ClassifyValue accepts, the record
//     id is the _id when that is an ObjectId;
//   - DecodeUser and DecodeGoals agree on the goals, and every goal is positive and finite;
//   - for valid documents of the types Extended JSON maps one to one, ToRelaxedJson parses back
//     (ParseExtendedJsonLine) to the same document, which decodes to the same result.
#include <bson/bson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/kernel.h"
#include "codec/ejson.h"
#include "codec/healthmetric.h"
#include "codec/user.h"
#include "fuzz_util.h"

namespace {

using ha::fuzz::Fail;

bool SameIssues(const std::vector<ha::FieldIssue>& a, const std::vector<ha::FieldIssue>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].field != b[i].field || a[i].reason != b[i].reason ||
        a[i].value_json != b[i].value_json)
      return false;
  return true;
}

bool SameRecord(const ha::DayRecord& a, const ha::DayRecord& b) {
  if (a.id != b.id || a.day != b.day || a.updated_at != b.updated_at || a.observed != b.observed)
    return false;
  for (size_t i = 0; i < a.value.size(); ++i)
    if ((a.observed >> i & 1u) != 0 && a.value[i] != b.value[i]) return false;
  return true;
}

bool SameDecoded(const ha::DecodedHealthMetric& a, const ha::DecodedHealthMetric& b) {
  return a.skip == b.skip && a.usable == b.usable && a.doc_id == b.doc_id &&
         a.user_id == b.user_id && a.id_is_object_id == b.id_is_object_id && a.user == b.user &&
         a.updated_at == b.updated_at && (!a.usable || SameRecord(a.record, b.record)) &&
         SameIssues(a.issues, b.issues);
}

void CheckHealthMetric(const ha::DecodedHealthMetric& m, const ha::AnalyticsOptions& options,
                       std::string_view input) {
  if (m.skip && !m.issues.empty()) Fail("a skipped document has issues", input);
  if (!m.skip && !m.usable && m.issues.empty())
    Fail("a document that does not take part has no issue", input);
  if (!m.usable && m.record.observed != 0)
    Fail("a document that does not take part has observations", input);
  for (size_t i = 0; i < m.record.value.size(); ++i) {
    if ((m.record.observed >> i & 1u) == 0) continue;
    if (ha::ClassifyValue(static_cast<ha::Metric>(i), m.record.value[i], options) !=
        ha::ValueClass::kObservation)
      Fail("an observed value is not an observation", input);
  }
  if (m.id_is_object_id && m.doc_id != m.record.id.ToHex())
    Fail("doc_id and record.id differ", input);
  for (const ha::FieldIssue& issue : m.issues)
    if (issue.field.empty() || issue.reason.empty() || issue.value_json.empty())
      Fail("an issue with an empty field, reason or value", input);
}

void CheckUser(const bson_t* doc, std::string_view input) {
  ha::ObjectId id;
  ha::Goals goals;
  ha::DecodeUser(doc, &id, &goals);
  const ha::Goals alone = ha::DecodeGoals(doc);
  const ha::Goals defaults = ha::DefaultGoals();
  for (size_t i = 0; i < goals.goal.size(); ++i) {
    if (goals.goal[i] != alone.goal[i]) Fail("DecodeUser and DecodeGoals disagree", input);
    if (defaults.goal[i] > 0 && !(std::isfinite(goals.goal[i]) && goals.goal[i] > 0))
      Fail("a goal that is not positive and finite", input);
    if (defaults.goal[i] == 0 && goals.goal[i] != 0) Fail("a goal for a metric without one", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5 || size > (1u << 20)) return 0;
  std::vector<uint8_t> bytes(data, data + size);
  const auto len = static_cast<uint32_t>(size);
  bytes[0] = static_cast<uint8_t>(len);
  bytes[1] = static_cast<uint8_t>(len >> 8);
  bytes[2] = static_cast<uint8_t>(len >> 16);
  bytes[3] = static_cast<uint8_t>(len >> 24);
  bytes.back() = 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  bson_t doc;
  if (!bson_init_static(&doc, bytes.data(), bytes.size())) return 0;

  const ha::AnalyticsOptions options;
  ha::DecodedHealthMetric decoded;
  ha::DecodeHealthMetric(&doc, options, &decoded);
  CheckHealthMetric(decoded, options, input);
  CheckUser(&doc, input);
  const std::string relaxed = ha::ToRelaxedJson(&doc);

  if (!ha::fuzz::ValidBson(&doc) || !ha::fuzz::RoundTrippable(&doc)) return 0;
  auto again = ha::ParseExtendedJsonLine(relaxed);
  if (!again.ok())
    Fail("ToRelaxedJson output does not parse: " + again.status().message() + "\n" + relaxed,
         input);
  if (!ha::fuzz::SameDocument(&doc, again->get()))
    Fail("ToRelaxedJson does not round-trip\nwritten: " + relaxed +
             "\nread:    " + ha::fuzz::Canonical(again->get()),
         input);
  ha::DecodedHealthMetric decoded_again;
  ha::DecodeHealthMetric(again->get(), options, &decoded_again);
  if (!SameDecoded(decoded, decoded_again))
    Fail("the document decodes differently after a JSON round trip", input);
  return 0;
}
