#include "events/events.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/thread_annotations.h"
#include "core/version.h"
#include "events/events_body.h"

namespace ha {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One request body waiting to be sent.
struct Event {
  std::string user_hex;
  std::string document_id;
  size_t items = 0;
  std::string body;
};

// What the batch in progress announced for one user: EventItemJson strings.
struct PendingUser {
  ObjectId user;
  std::vector<std::string> items;
  size_t bytes = 0;
};

size_t EventsFor(size_t items, size_t per_event) { return (items + per_event - 1) / per_event; }

// `s` with every occurrence of `secret` replaced by ***.
std::string Scrub(std::string s, const std::string& secret) {
  if (secret.empty()) return s;
  for (size_t at; (at = s.find(secret)) != std::string::npos;) s.replace(at, secret.size(), "***");
  return s;
}

// At most `n` bytes of `s` on one line, control characters as spaces.
std::string Snippet(std::string_view s, size_t n) {
  std::string out(s.substr(0, n));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (s.size() > n) out += "...";
  return out;
}

uint64_t RandomNonce() {
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return r ^ static_cast<uint64_t>(Clock::now().time_since_epoch().count());
}

std::once_flag curl_init_once;

}  // namespace

std::string EventsEndpoint(std::string_view backend_api_url) {
  while (!backend_api_url.empty() && backend_api_url.back() == '/')
    backend_api_url.remove_suffix(1);
  return std::string(backend_api_url) + "/api/events/emit";
}

std::string UrlForLogs(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const size_t scheme = url.find("://");
  const size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
  const size_t path = std::min(url.find('/', host), url.size());
  const std::string_view authority = url.substr(host, path - host);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return fmt::format("{}***@{}{}", url.substr(0, host), authority.substr(at + 1), url.substr(path));
}

struct EventPublisher::Impl {
  explicit Impl(EventPublisherOptions o)
      : options(std::move(o)),
        endpoint(EventsEndpoint(options.backend_api_url)),
        endpoint_for_logs(UrlForLogs(endpoint)),
        nonce(RandomNonce()) {
    options.max_items_per_event = std::max<size_t>(1, options.max_items_per_event);
    options.max_in_flight = std::max(1, options.max_in_flight);
    options.attempts = std::max(1, options.attempts);
    options.timeout = std::max(milliseconds(1), options.timeout);
  }

  EventPublisherOptions options;
  const std::string endpoint;
  const std::string endpoint_for_logs;
  const uint64_t nonce;  // with `sequence`, makes documentId unique across restarts

  // The batch in progress.
  Mutex pending_mu;
  std::list<PendingUser> pending HA_GUARDED_BY(pending_mu);
  std::unordered_map<ObjectId, std::list<PendingUser>::iterator, ObjectIdHash> pending_index
      HA_GUARDED_BY(pending_mu);
  size_t pending_events HA_GUARDED_BY(pending_mu) = 0;
  size_t pending_bytes HA_GUARDED_BY(pending_mu) = 0;
  // Counted as dropped if the batch commits.
  int64_t pending_dropped HA_GUARDED_BY(pending_mu) = 0;
  uint64_t sequence HA_GUARDED_BY(pending_mu) = 0;

  // The send queue.
  mutable Mutex mu;
  std::condition_variable work_cv;  // an event is queued, or stopping, or abort
  std::condition_variable idle_cv;  // an event was handled
  std::deque<Event> queue HA_GUARDED_BY(mu);
  size_t queue_bytes HA_GUARDED_BY(mu) = 0;
  int in_flight HA_GUARDED_BY(mu) = 0;
  // Shutdown began: workers leave once the queue is empty.
  bool stopping HA_GUARDED_BY(mu) = false;
  // Shutdown ran: nothing more is queued.
  bool shut_down HA_GUARDED_BY(mu) = false;
  std::atomic<bool> abort{false};  // Shutdown's time is up: stop now (set under `mu`)
  std::vector<std::thread> workers;

  std::atomic<int64_t> sent{0}, failed{0}, dropped{0}, retried{0};

  Mutex log_mu;
  std::optional<Clock::time_point> last_warning HA_GUARDED_BY(log_mu);
  int64_t held_back HA_GUARDED_BY(log_mu) = 0;

  void Report(std::string_view result, int64_t n = 1) const {
    if (!options.on_result) return;
    for (int64_t i = 0; i < n; ++i) options.on_result(result);
  }

  // A warning, rate-limited by options.log_interval, with the token scrubbed.
  void Warn(std::string message) {
    {
      MutexLock lk(log_mu);
      const auto now = Clock::now();
      if (last_warning && now - *last_warning < options.log_interval) {
        ++held_back;
        return;
      }
      if (held_back > 0)
        message += fmt::format(" ({} more backend-event warnings held back since the last one)",
                               held_back);
      held_back = 0;
      last_warning = now;
    }
    spdlog::warn("{}", Scrub(std::move(message), options.service_token));
  }

  void Drop(int64_t n, std::string_view why) {
    if (n <= 0) return;
    dropped += n;
    Report("dropped", n);
    Warn(fmt::format("{} backend event(s) dropped: {}", n, why));
  }

  // Queues `events` (oldest first), making room by dropping the oldest queued events.
  void Enqueue(std::vector<Event>&& events, int64_t dropped_before) {
    int64_t overflow = 0, refused = 0;
    {
      MutexLock lk(mu);
      if (shut_down) {
        refused = static_cast<int64_t>(events.size());
      } else {
        for (Event& e : events) {
          queue_bytes += e.body.size();
          queue.push_back(std::move(e));
        }
        while (!queue.empty() &&
               (queue.size() > options.max_queue || queue_bytes > options.max_queue_bytes)) {
          queue_bytes -= queue.front().body.size();
          queue.pop_front();
          ++overflow;
        }
      }
    }
    work_cv.notify_all();
    if (dropped_before + overflow > 0)
      Drop(dropped_before + overflow,
           fmt::format("the queue is full (at most {} events and {} bytes); the backend at {} is "
                       "slower than the changes or unreachable",
                       options.max_queue, options.max_queue_bytes, endpoint_for_logs));
    if (refused > 0) Drop(refused, "committed after shutdown");
  }

  // Waits `d` unless Shutdown's time runs out first; false when it did.
  bool SleepUnlessAborted(milliseconds d) {
    const auto deadline = Clock::now() + d;
    MutexLock lk(mu);
    while (!abort.load())
      if (!lk.WaitUntil(work_cv, deadline)) return !abort.load();
    return false;
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* response = static_cast<std::string*>(user);
    const size_t bytes = size * n;
    if (response->size() < 512) response->append(data, std::min(bytes, 512 - response->size()));
    return bytes;
  }

  static int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Impl*>(user)->abort.load() ? 1 : 0;
  }

  struct Attempt {
    CURLcode code = CURLE_OK;
    long status = 0;  // HTTP status when code is CURLE_OK
    std::string error;
    std::string response;  // the first bytes of the response body
  };

  Attempt Post(CURL* curl, const std::string& body) {
    Attempt a;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.response);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    a.code = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    if (a.code == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
    } else {
      a.error = error[0] != '\0' ? error : curl_easy_strerror(a.code);
    }
    return a;
  }

  std::string Describe(const Attempt& a) const {
    if (a.code == CURLE_OK) {
      std::string s = fmt::format("HTTP {}", a.status);
      if (a.status == 403) s += " (not retried: the backend refused SERVICE_TOKEN; check it)";
      if (a.status == 400) s += " (not retried: the backend refused the body)";
      if (!a.response.empty()) s += fmt::format(": {}", Snippet(a.response, 200));
      return s;
    }
    if (a.code == CURLE_OPERATION_TIMEDOUT)
      return fmt::format("no answer within {} ms ({})", options.timeout.count(), a.error);
    return fmt::format("{} (check BACKEND_API_URL and that the backend is up)", a.error);
  }

  void Deliver(CURL* curl, const Event& e) {
    std::string why;
    int made = 0;
    for (int attempt = 1; attempt <= options.attempts; ++attempt) {
      if (abort.load()) {
        why += why.empty() ? "aborted at shutdown" : "; then aborted at shutdown";
        break;
      }
      ++made;
      const Attempt a = Post(curl, e.body);
      if (a.code == CURLE_OK && a.status >= 200 && a.status < 300) {
        ++sent;
        Report("sent");
        return;
      }
      if (a.code == CURLE_ABORTED_BY_CALLBACK) {
        why = "aborted at shutdown";
        break;
      }
      why = Describe(a);
      if (a.code == CURLE_OK && (a.status == 400 || a.status == 403)) break;
      if (attempt == options.attempts) break;
      ++retried;
      Report("retried");
      const auto& waits = options.retry_waits;
      const milliseconds wait =
          waits.empty() ? milliseconds(0)
                        : waits[std::min(static_cast<size_t>(attempt - 1), waits.size() - 1)];
      if (!SleepUnlessAborted(wait)) {
        why += "; then aborted at shutdown";
        break;
      }
    }
    ++failed;
    Report("failed");
    Warn(fmt::format(
        "backend event {} for user {} ({} analytics) not delivered to {} after {} attempt(s): "
        "{}; the event is dropped (events are best effort; the analytics documents are written)",
        e.document_id, e.user_hex, e.items, endpoint_for_logs, made, why));
  }

  void WorkerLoop() {
    CURL* curl = curl_easy_init();
    curl_slist* headers = nullptr;
    const std::string auth = "Authorization: Bearer " + options.service_token;
    for (const std::string& h :
         {auth, std::string("Content-Type: application/json"), std::string("Accept: */*"),
          std::string("Expect:"),  // no "100-continue" round trip for bodies over 1 KiB
          fmt::format("User-Agent: health-analytics/{}", kVersion)}) {
      curl_slist* next = curl_slist_append(headers, h.c_str());
      if (next == nullptr) break;
      headers = next;
    }
    if (curl == nullptr || headers == nullptr) {
      Warn(
          "backend events: libcurl could not be initialised (out of memory?); this sending "
          "thread stops and its share of events will be dropped");
      curl_slist_free_all(headers);
      if (curl != nullptr) curl_easy_cleanup(curl);
      return;
    }
    curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Impl::OnBody);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Impl::OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif

    for (;;) {
      Event e;
      {
        MutexLock lk(mu);
        while (!abort.load() && !stopping && queue.empty()) lk.Wait(work_cv);
        if (abort.load() || queue.empty()) break;
        e = std::move(queue.front());
        queue.pop_front();
        queue_bytes -= e.body.size();
        ++in_flight;
      }
      Deliver(curl, e);
      {
        MutexLock lk(mu);
        --in_flight;
      }
      idle_cv.notify_all();
    }
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
  }
};

Result<std::unique_ptr<EventPublisher>> EventPublisher::Create(EventPublisherOptions options) {
  if (options.backend_api_url.empty() || options.service_token.empty())
    return std::unique_ptr<EventPublisher>();
  const std::string_view url = options.backend_api_url;
  auto starts_with = [&](std::string_view prefix) {
    return url.size() > prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), url.begin(), [](char p, char u) {
             return std::tolower(static_cast<unsigned char>(u)) == p;
           });
  };
  if (!starts_with("http://") && !starts_with("https://"))
    return InvalidArgument(fmt::format(
        "BACKEND_API_URL '{}' is not an http:// or https:// URL: set it to the backend's base URL "
        "(events go to <BACKEND_API_URL>/api/events/emit), or unset it to turn events off",
        Scrub(UrlForLogs(url), options.service_token)));
  for (char c : options.service_token)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return InvalidArgument(
          "SERVICE_TOKEN contains a control character (a line break?): it cannot be sent in an "
          "HTTP header; set it to the token alone");
  return std::make_unique<EventPublisher>(std::move(options));
}

EventPublisher::EventPublisher(EventPublisherOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  for (int i = 0; i < impl_->options.max_in_flight; ++i)
    impl_->workers.emplace_back([this] { impl_->WorkerLoop(); });
}

EventPublisher::~EventPublisher() { Shutdown(milliseconds(0)); }

void EventPublisher::OnUserChanged(const ObjectId& user, Instant calculated_at,
                                   std::vector<AnalyticsChange>&& changes) {
  std::vector<AnalyticsChange> mine = std::move(changes);
  if (mine.empty()) return;
  std::vector<std::string> items;
  items.reserve(mine.size());
  size_t bytes = 0;
  for (const AnalyticsChange& c : mine) {
    items.push_back(EventItemJson(c, calculated_at));
    bytes += items.back().size();
  }
  mine.clear();

  Impl& m = *impl_;
  const size_t per = m.options.max_items_per_event;
  MutexLock lk(m.pending_mu);
  auto [at, added] = m.pending_index.try_emplace(user);
  if (added) {
    m.pending.push_back(PendingUser{user, {}, 0});
    at->second = std::prev(m.pending.end());
  }
  PendingUser& p = *at->second;
  m.pending_events -= EventsFor(p.items.size(), per);
  for (std::string& i : items) p.items.push_back(std::move(i));
  p.bytes += bytes;
  m.pending_events += EventsFor(p.items.size(), per);
  m.pending_bytes += bytes;
  // The queue would drop these at commit anyway: drop them now, oldest first, to bound memory.
  while (!m.pending.empty() &&
         (m.pending_events > m.options.max_queue || m.pending_bytes > m.options.max_queue_bytes)) {
    const PendingUser& oldest = m.pending.front();
    const size_t events = EventsFor(oldest.items.size(), per);
    m.pending_events -= events;
    m.pending_bytes -= oldest.bytes;
    m.pending_dropped += static_cast<int64_t>(events);
    m.pending_index.erase(oldest.user);
    m.pending.pop_front();
  }
}

void EventPublisher::OnBatchCommitted(int64_t batch_id) {
  Impl& m = *impl_;
  std::list<PendingUser> users;
  int64_t dropped_before = 0;
  uint64_t sequence = 0;
  {
    MutexLock lk(m.pending_mu);
    users.swap(m.pending);
    m.pending_index.clear();
    m.pending_events = 0;
    m.pending_bytes = 0;
    dropped_before = std::exchange(m.pending_dropped, 0);
    size_t events = 0;
    for (const PendingUser& u : users)
      events += EventsFor(u.items.size(), m.options.max_items_per_event);
    sequence = m.sequence;
    m.sequence += events;
  }
  const Instant now = NowMillis();
  const size_t per = m.options.max_items_per_event;
  std::vector<Event> events;
  for (PendingUser& u : users) {
    const std::string hex = u.user.ToHex();
    const size_t total = EventsFor(u.items.size(), per);
    for (size_t i = 0; i < total; ++i) {
      const size_t from = i * per, to = std::min(u.items.size(), from + per);
      Event e;
      e.user_hex = hex;
      e.document_id = fmt::format("{}-{}-{}-{:016x}-{}", hex, batch_id, i + 1, m.nonce, sequence++);
      e.items = to - from;
      e.body = EventBodyJson(u.user, std::span(u.items).subspan(from, to - from),
                             static_cast<int>(i + 1), static_cast<int>(total), e.document_id, now);
      events.push_back(std::move(e));
    }
    u.items.clear();
    u.items.shrink_to_fit();
  }
  m.Enqueue(std::move(events), dropped_before);
}

void EventPublisher::OnBatchAbandoned(int64_t /*batch_id*/) {
  Impl& m = *impl_;
  std::list<PendingUser> forgotten;
  {
    MutexLock lk(m.pending_mu);
    forgotten.swap(m.pending);
    m.pending_index.clear();
    m.pending_events = 0;
    m.pending_bytes = 0;
    m.pending_dropped = 0;
  }
}

void EventPublisher::Shutdown(milliseconds timeout) {
  Impl& m = *impl_;
  int64_t left = 0;
  {
    const auto deadline = Clock::now() + timeout;
    MutexLock lk(m.mu);
    if (m.shut_down) return;
    m.shut_down = true;
    m.stopping = true;
    m.work_cv.notify_all();
    while (!(m.queue.empty() && m.in_flight == 0))
      if (!lk.WaitUntil(m.idle_cv, deadline)) break;
    m.abort = true;
    left = static_cast<int64_t>(m.queue.size());
    m.queue.clear();
    m.queue_bytes = 0;
  }
  m.work_cv.notify_all();
  for (std::thread& t : m.workers) t.join();
  m.workers.clear();
  if (left > 0) {
    m.dropped += left;
    m.Report("dropped", left);
    spdlog::warn(
        "{} backend event(s) still queued at shutdown were dropped (not sent within {} ms)", left,
        timeout.count());
  }
  const EventCounts c = Counts();
  if (c.sent + c.failed + c.dropped > 0)
    spdlog::info("backend events: {} sent, {} failed, {} dropped, {} retries", c.sent, c.failed,
                 c.dropped, c.retried);
}

EventCounts EventPublisher::Counts() const {
  const Impl& m = *impl_;
  EventCounts c;
  c.sent = m.sent.load();
  c.failed = m.failed.load();
  c.dropped = m.dropped.load();
  c.retried = m.retried.load();
  MutexLock lk(m.mu);
  c.queued = static_cast<int64_t>(m.queue.size());
  return c;
}

const std::string& EventPublisher::endpoint_for_logs() const { return impl_->endpoint_for_logs; }

}  // namespace ha
