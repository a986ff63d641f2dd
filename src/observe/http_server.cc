#include "observe/http_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

namespace ha {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kHtml = "text/html; charset=utf-8";

void Reply(httplib::Response& res, const HttpReply& reply) {
  res.status = reply.code;
  res.set_content(reply.body, kJson);
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpReply ErrorReply(int code, std::string message, const std::string& user_hex = "") {
  nlohmann::json j;
  j["error"] = std::move(message);
  if (!user_hex.empty()) j["userId"] = user_hex;
  return {code, Dump(j)};
}

}  // namespace

HttpReply UserAnalyticsReply(std::string_view id_text, const UserAnalyticsLookup& lookup) {
  const std::optional<ObjectId> id = ObjectId::FromHex(id_text);
  if (!id) {
    // Echoed (shortened, JSON-escaped) so the caller sees what arrived after URL decoding.
    const std::string shown(id_text.substr(0, 64));
    return ErrorReply(400, fmt::format("user id \"{}{}\" is not an ObjectId: expected 24 "
                                       "hexadecimal digits, e.g. 65a1b2c3d4e5f60718293a4b",
                                       shown, id_text.size() > shown.size() ? "..." : ""));
  }
  const std::string hex = id->ToHex();
  if (!lookup) return ErrorReply(501, "this process serves no per-user view", hex);
  Result<std::vector<std::string>> docs = lookup(*id);
  if (!docs.ok()) {
    const Status& st = docs.status();
    if (st.code() == StatusCode::kUnavailable)
      return ErrorReply(503, "the database is unreachable, try again later: " + st.message(), hex);
    return ErrorReply(502, "reading the analytics failed: " + st.message(), hex);
  }
  if (docs->empty())
    return ErrorReply(404,
                      fmt::format("user {} has no analytics documents (no usable healthmetrics in "
                                  "the horizon, or not processed yet)",
                                  hex),
                      hex);
  std::string body = fmt::format(R"({{"userId":"{}","count":{},"documents":[)", hex, docs->size());
  for (size_t i = 0; i < docs->size(); ++i) {
    if (i > 0) body += ',';
    body += (*docs)[i];
  }
  body += "]}";
  return {200, std::move(body)};
}

HttpServer::HttpServer(const Monitor& monitor, std::function<Instant()> clock)
    : monitor_(monitor), clock_(std::move(clock)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const std::string& host, int port) {
  if (server_) return Internal("HttpServer::Start called twice");
  auto server = std::make_unique<httplib::Server>();
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second engine
  // share the port silently instead of failing to bind.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->new_task_queue = [] { return new httplib::ThreadPool(4); };
  server->set_keep_alive_timeout(2);
  server->set_read_timeout(5, 0);
  server->set_write_timeout(5, 0);
  server->set_default_headers({{"Cache-Control", "no-store"}});

  const Monitor& m = monitor_;
  auto clock = clock_;
  server->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusPageHtml(), kHtml);
  });
  server->Get("/health", [&m, clock](const httplib::Request&, httplib::Response& res) {
    Reply(res, m.Health(clock()));
  });
  server->Get("/health/detailed", [&m, clock](const httplib::Request&, httplib::Response& res) {
    Reply(res, m.Detailed(clock()));
  });
  server->Get("/health/ready", [&m, clock](const httplib::Request&, httplib::Response& res) {
    Reply(res, m.Ready(clock()));
  });
  server->Get("/health/live", [&m, clock](const httplib::Request&, httplib::Response& res) {
    Reply(res, m.Live(clock()));
  });
  server->Get("/health/dlq", [&m, clock](const httplib::Request&, httplib::Response& res) {
    Reply(res, m.DeadLetters(clock()));
  });
  server->Get("/api/batches",
              [&m](const httplib::Request&, httplib::Response& res) { Reply(res, m.Batches()); });
  server->Get(R"(/api/users/([^/]*)/analytics)",
              [this](const httplib::Request& req, httplib::Response& res) {
                std::unique_lock lock(lookup_mu_, std::try_to_lock);
                if (!lock.owns_lock()) {
                  res.set_header("Retry-After", "1");
                  Reply(res, ErrorReply(503, "another user lookup is running; retry in a moment"));
                  return;
                }
                Reply(res, UserAnalyticsReply(req.matches[1].str(), lookup_));
              });
  server->Get("/metrics", [&m, clock](const httplib::Request&, httplib::Response& res) {
    res.set_content(m.MetricsText(clock()), kPrometheusText);
  });
  // Called for every answer >= 400; fills in only the routes that do not exist.
  server->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    nlohmann::json j;
    j["error"] = fmt::format("no endpoint {} {}", req.method, req.path);
    j["endpoints"] = {
        "/",           "/health",      "/health/detailed",          "/health/ready", "/health/live",
        "/health/dlq", "/api/batches", "/api/users/<id>/analytics", "/metrics"};
    res.set_content(Dump(j), kJson);
  });

  errno = 0;
  int bound = port;
  if (port == 0)
    bound = server->bind_to_any_port(host);
  else if (!server->bind_to_port(host, port))
    bound = -1;
  if (bound <= 0) {
    const int err = errno;
    return Unavailable(fmt::format(
        "cannot listen on {}:{}{}{}; set HEALTH_CHECK_HOST/HEALTH_CHECK_PORT to a free local "
        "address (another engine may be using this port), or HEALTH_CHECK_PORT=0 to disable HTTP",
        host, port, err ? ": " : "", err ? std::strerror(err) : ""));
  }
  port_ = bound;
  server_ = std::move(server);
  thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
  // stop() is a no-op until the server runs, so Stop() right after Start() could hang: wait.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace ha
