// Backend events (docs/OPERATIONS.md, Backend events): after a batch commits, each user whose
// analytics changed visibly is announced to the backend with `POST
// {BACKEND_API_URL}/api/events/emit`.
//
// Best effort and at most once: events wait in memory, a bounded queue drops the oldest when
// full, a failed delivery is counted and logged, and nothing here ever fails or delays a batch.
// Events queued when the process dies are lost.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/listener.h"

namespace ha {

// Every knob, with its default next to it.
struct EventPublisherOptions {
  std::string backend_api_url;  // BACKEND_API_URL: events go to <url>/api/events/emit
  std::string service_token;    // SERVICE_TOKEN: "Authorization: Bearer <token>"; never logged
  size_t max_queue = 10'000;    // events waiting to be sent; beyond, the oldest is dropped
  size_t max_queue_bytes = size_t{64} << 20;  // and bytes (~3,500 users x 24 documents)
  int max_in_flight = 4;                      // requests at once (one sending thread each)
  std::chrono::milliseconds timeout{5000};    // per request, connecting included
  int attempts = 3;                           // per event; 400 and 403 are never retried
  // The wait before attempt 2, 3, ...; the last one repeats if there are more attempts.
  std::vector<std::chrono::milliseconds> retry_waits{std::chrono::milliseconds(500),
                                                     std::chrono::milliseconds(1000)};
  size_t max_items_per_event = 50;  // data.analytics items per event; a user's rest goes in more
  // At most one warning (failed delivery, drops) per interval; the next one says how many were
  // held back, so an unreachable backend cannot flood the log.
  std::chrono::milliseconds log_interval{10'000};
  // Called once per outcome: "sent" and "failed" per event, "retried" per retry, "dropped" per
  // event lost to a full queue or to Shutdown. Called from the sending threads and from the
  // engine's thread, never under a lock of the publisher: it must be thread-safe and quick (a
  // metrics counter). May be empty.
  std::function<void(std::string_view result)> on_result;
};

// Totals since construction. sent + failed + dropped + queued + in flight = events committed.
struct EventCounts {
  int64_t sent = 0;     // answered 2xx
  int64_t failed = 0;   // every attempt failed, or 400/403, or aborted by Shutdown
  int64_t dropped = 0;  // never attempted: pushed out of a full queue, or left at Shutdown
  int64_t retried = 0;  // attempts after the first
  int64_t queued = 0;   // waiting now (a gauge)
};

class EventPublisher final : public ChangeListener {
 public:
  // nullptr when BACKEND_API_URL or SERVICE_TOKEN is empty (events are off); InvalidArgument
  // when the URL is not http:// or https:// (the message shows the URL without credentials and
  // never the token); otherwise a running publisher.
  static Result<std::unique_ptr<EventPublisher>> Create(EventPublisherOptions options);

  // Starts max_in_flight sending threads. Prefer Create, which validates.
  explicit EventPublisher(EventPublisherOptions options);
  // Shutdown(0) unless Shutdown already ran: what is still queued is dropped.
  ~EventPublisher() override;
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;

  // ChangeListener. Never block on the network; safe from any thread.
  // Converts `changes` to JSON at once (no BSON is kept) and holds them until the batch ends.
  // Pending events beyond max_queue are dropped oldest first (counted if the batch commits).
  void OnUserChanged(const ObjectId& user, Instant calculated_at,
                     std::vector<AnalyticsChange>&& changes) override;
  // Splits each pending user's items into events of at most max_items_per_event and queues
  // them, users in the order they were announced; the oldest queued events make room.
  void OnBatchCommitted(int64_t batch_id) override;
  // Forgets what the batch announced: the batch is replayed, and will announce it again.
  void OnBatchAbandoned(int64_t batch_id) override;

  // Sends what it can within `timeout`, then stops: requests still in flight are aborted
  // (counted failed), events still queued are dropped (counted). Events committed afterwards
  // are dropped. Returns at most about `timeout` later. Idempotent.
  void Shutdown(std::chrono::milliseconds timeout);

  EventCounts Counts() const;

  // "<url>/api/events/emit" with any user:password@ and query removed, for logs.
  const std::string& endpoint_for_logs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// BACKEND_API_URL joined with "/api/events/emit", without doubling or adding slashes.
std::string EventsEndpoint(std::string_view backend_api_url);

// `url` without its user:password@ part and query string, for messages.
std::string UrlForLogs(std::string_view url);

}  // namespace ha
