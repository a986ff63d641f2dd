#include "observe/dead_letters.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/atomic_file.h"
#include "codec/ejson.h"

namespace ha {
namespace {

// (doc_id, updated_at, field), plus user_id so that whole-user letters (no doc_id) of two
// users stay apart; for document letters user_id follows from doc_id.
std::string Key(const std::string& doc_id, std::optional<Instant> updated_at,
                const std::string& field, const std::string& user_id) {
  return doc_id + '|' + (updated_at ? std::to_string(*updated_at) : std::string("-")) + '|' +
         field + '|' + user_id;
}

std::string FileFor(const std::string& dir, Instant t) {
  return dir + "/dead_letters_" + FormatYmd(t) + ".jsonl";
}

// ISO-8601 for the years 0000-9999, where FormatInstant's form can be read back; beyond, the
// milliseconds since the epoch as a number.
void AppendInstant(Instant t, std::string* out) {
  constexpr Instant kYear0 = -62167219200000, kYear10000 = 253402300800000;
  if (t >= kYear0 && t < kYear10000) {
    AppendJsonString(FormatInstant(t), out);
  } else {
    *out += std::to_string(t);
  }
}

}  // namespace

void DeadLetterLog::AppendJson(const DeadLetter& l, std::string* out) {
  *out += R"({"recorded_at":)";
  AppendInstant(l.recorded_at, out);
  *out += R"(,"batch_id":)";
  *out += std::to_string(l.batch_id);
  *out += R"(,"doc_id":)";
  if (l.doc_id.empty()) {
    *out += "null";
  } else {
    AppendJsonString(l.doc_id, out);
  }
  *out += R"(,"user_id":)";
  AppendJsonString(l.user_id, out);
  *out += R"(,"updated_at":)";
  if (l.updated_at) {
    AppendInstant(*l.updated_at, out);
  } else {
    *out += "null";
  }
  *out += R"(,"field":)";
  AppendJsonString(l.field, out);
  *out += R"(,"reason":)";
  AppendJsonString(l.reason, out);
  *out += R"(,"value":)";
  if (l.value_json.empty()) {
    *out += "null";
  } else if (nlohmann::json::accept(l.value_json)) {
    *out += l.value_json;
  } else {
    AppendJsonString(l.value_json, out);
  }
  *out += '}';
}

std::string DeadLetterLog::ToJsonLine(const DeadLetter& l) {
  std::string out;
  AppendJson(l, &out);
  return out;
}

Status DeadLetterLog::Open(Instant now) {
  // Dead letters carry user ids and raw health values: not for other users of the machine.
  if (const std::error_code ec = CreateDirectories(dir_, kPrivateDirMode))
    return IoError("cannot create DLQ_DIRECTORY " + dir_ + ": " + ec.message() +
                   "; create it or point DLQ_DIRECTORY at a writable folder");
  for (Instant t : {now - kMillisPerDay, now}) {
    std::ifstream in(FileFor(dir_, t));
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      std::optional<Instant> updated;
      if (j.contains("updated_at") && j["updated_at"].is_string()) {
        auto p = ParseInstant(j["updated_at"].get<std::string>());
        if (p.ok()) updated = *p;
      } else if (j.contains("updated_at") && j["updated_at"].is_number_integer()) {
        updated = j["updated_at"].get<Instant>();
      }
      // doc_id is null for whole-user letters (and was "" in files of older versions).
      auto text = [&j](const char* key) {
        return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
      };
      seen_.insert(Key(text("doc_id"), updated, text("field"), text("user_id")));
    }
  }
  return Status::Ok();
}

bool DeadLetterLog::Record(const DeadLetter& letter) {
  if (!seen_.insert(Key(letter.doc_id, letter.updated_at, letter.field, letter.user_id)).second)
    return false;
  ++counts_[letter.reason];
  ++total_;
  const Status st =
      AppendToFile(FileFor(dir_, letter.recorded_at), ToJsonLine(letter) + '\n', kPrivateFileMode);
  if (!st.ok() && !warned_) {
    warned_ = true;
    std::fprintf(stderr, "health-analytics: cannot append to the dead-letter log: %s\n",
                 st.message().c_str());
  }
  return true;
}

}  // namespace ha
