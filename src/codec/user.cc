#include "codec/user.h"

#include <cmath>
#include <cstring>

#include "analytics/metrics.h"

namespace ha {
namespace {

// True (with *value set) for a positive finite int32, int64 or double.
bool PositiveNumber(const bson_iter_t* it, double* value) {
  double v;
  switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32:
      v = bson_iter_int32(it);
      break;
    case BSON_TYPE_INT64:
      v = static_cast<double>(bson_iter_int64(it));
      break;
    case BSON_TYPE_DOUBLE:
      v = bson_iter_double(it);
      break;
    default:
      return false;
  }
  if (!std::isfinite(v) || !(v > 0)) return false;
  *value = v;
  return true;
}

void ReadGoals(const bson_iter_t* goals_it, Goals* goals) {
  bson_iter_t it;
  if (!BSON_ITER_HOLDS_DOCUMENT(goals_it) || !bson_iter_recurse(goals_it, &it)) return;
  uint8_t seen = 0;  // the first occurrence of a key counts
  while (bson_iter_next(&it)) {
    const std::string_view key(bson_iter_key(&it), bson_iter_key_len(&it));
    for (const MetricInfo& info : kMetricInfo) {
      if (info.goal_field.empty() || info.goal_field != key) continue;
      const int slot = static_cast<int>(info.metric);
      if ((seen >> slot & 1u) == 0) {
        seen = static_cast<uint8_t>(seen | 1u << slot);
        double v;
        if (PositiveNumber(&it, &v)) goals->goal[static_cast<size_t>(slot)] = v;
      }
      break;
    }
  }
}

}  // namespace

Goals DecodeGoals(const bson_t* user_doc) {
  Goals goals = DefaultGoals();
  bson_iter_t it;
  if (bson_iter_init_find(&it, user_doc, "goals")) ReadGoals(&it, &goals);
  return goals;
}

bool DecodeUser(const bson_t* user_doc, ObjectId* id, Goals* goals) {
  *goals = DefaultGoals();
  bson_iter_t it;
  if (!bson_iter_init(&it, user_doc)) return false;
  bool has_id = false, id_ok = false, has_goals = false;
  while (bson_iter_next(&it)) {
    const std::string_view key(bson_iter_key(&it), bson_iter_key_len(&it));
    if (!has_id && key == "_id") {
      has_id = true;
      if (BSON_ITER_HOLDS_OID(&it)) {
        std::memcpy(id->bytes.data(), bson_iter_oid(&it)->bytes, 12);
        id_ok = true;
      }
    } else if (!has_goals && key == "goals") {
      has_goals = true;
      ReadGoals(&it, goals);
    }
  }
  return id_ok;
}

}  // namespace ha
