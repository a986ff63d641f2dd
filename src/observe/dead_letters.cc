#include "observe/dead_letters.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/atomic_file.h"

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

}  // namespace

std::string DeadLetterLog::ToJsonLine(const DeadLetter& l) {
  nlohmann::ordered_json j;
  j["recorded_at"] = FormatInstant(l.recorded_at);
  j["batch_id"] = l.batch_id;
  j["doc_id"] = l.doc_id;
  j["user_id"] = l.user_id;
  j["updated_at"] = l.updated_at ? nlohmann::ordered_json(FormatInstant(*l.updated_at))
                                 : nlohmann::ordered_json(nullptr);
  j["field"] = l.field;
  j["reason"] = l.reason;
  auto value = nlohmann::ordered_json::parse(l.value_json, nullptr, /*allow_exceptions=*/false);
  j["value"] = value.is_discarded() ? nlohmann::ordered_json(l.value_json) : value;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
      }
      seen_.insert(
          Key(j.value("doc_id", ""), updated, j.value("field", ""), j.value("user_id", "")));
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
