// Encoding analytics documents (one per user, metric and time range; their fields are listed in
// docs/ANALYTICS.md) and fingerprinting their visible content so the writer can skip writes that
// change nothing.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <optional>
#include <string>

#include "analytics/kernel.h"
#include "codec/bson_doc.h"
#include "core/object_id.h"
#include "core/time.h"

namespace ha {

// What a write adds beyond the kernel's result.
struct WriteStamp {
  Instant calculated_at = 0;           // the batch clock, ms precision
  int result_ttl_days = 90;            // RESULT_TTL_DAYS: expiresAt = calculatedAt + this
  std::string spark_job_id;            // metadata.sparkJobId, "health-analytics:<batchId>"
  int32_t processing_duration_ms = 0;  // metadata.processingDurationMs
};

// Appends to `out`, in this order: userId, metricType, timeRange, analytics{...},
// historicalData, asOfDate, calculatedAt, expiresAt, metadata{sparkJobId, processingDurationMs,
// dataPointsProcessed, sparkVersion, contentDigest}, updatedAt, for range `range_index` (0..2 =
// 7day, 30day, 90day) of `m`. These are the fields every write sets ($set of an upsert); createdAt,
// __v and _id are the writer's business on insert. Numbers in analytics and historicalData are BSON
// doubles except streakDays, longestStreak and dataPointsCount (int32); instants are Dates;
// analytics.anomalyDetails is present only when anomalyDetected (detectedAt = calculatedAt).
// metadata.contentDigest is ContentDigestHex of the document's DeterministicDigest, which is
// also returned: a later writer decides "unchanged" from it without reading the document. `out`
// must not already hold a field the digest covers. No rounding. Never fails.
uint64_t AppendAnalyticsFields(bson_t* out, const ObjectId& user, const MetricAnalytics& m,
                               int range_index, const WriteStamp& s);

// Appends a whole analytics document without _id, in the order the old job wrote: the fields of
// AppendAnalyticsFields with createdAt (= calculatedAt) between metadata and updatedAt, then
// __v (int32 0). This is what `compute` prints. `out` should be empty. Returns the
// DeterministicDigest (as AppendAnalyticsFields).
uint64_t AppendAnalyticsDocument(bson_t* out, const ObjectId& user, const MetricAnalytics& m,
                                 int range_index, const WriteStamp& s);

// AppendAnalyticsDocument into a new document.
BsonDoc EncodeAnalyticsDocument(const ObjectId& user, const MetricAnalytics& m, int range_index,
                                const WriteStamp& s);

// A 64-bit fingerprint of what a reader of an analytics document sees change: userId,
// metricType, timeRange, analytics (without anomalyDetails.detectedAt), historicalData and
// asOfDate — keys, BSON types and values. Ignores _id, calculatedAt, expiresAt, updatedAt,
// metadata, createdAt, __v and any unknown top-level field, and the position of the top-level
// fields. Equal for a freshly encoded document and the same document read back from MongoDB;
// different (except with probability ~2^-64) when any covered value or type differs.
uint64_t DeterministicDigest(const bson_t* analytics_doc);

// A digest as stored in metadata.contentDigest: 16 lowercase hex digits (a string, because
// JavaScript numbers cannot hold 64 bits).
std::string ContentDigestHex(uint64_t digest);

// metadata.contentDigest of a stored analytics document; std::nullopt when it is absent or not
// 16 lowercase hex digits (a document written before the digest existed, or by someone else).
std::optional<uint64_t> StoredContentDigest(const bson_t* analytics_doc);

}  // namespace ha
