// A tiny blocking HTTP/1.1 receiver on a free 127.0.0.1 port, for the backend-event tests: it
// records every request (method, target, headers, body) and answers as the test's handler says,
// one request per connection ("Connection: close"), or never.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ha::testing {

struct HttpRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

struct HttpAnswer {
  int status = 200;  // < 0: never answer (hold the connection until the receiver stops)
  std::string body = "{}";
};

class HttpReceiver {
 public:
  // `handler` gets each request and its 1-based number; it may block (e.g. on a gate).
  using Handler = std::function<HttpAnswer(const HttpRequest&, int number)>;

  explicit HttpReceiver(Handler handler = nullptr) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("bind/listen on 127.0.0.1");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~HttpReceiver() { Stop(); }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<HttpRequest> requests() const {
    std::lock_guard lk(mu_);
    return requests_;
  }
  size_t count() const {
    std::lock_guard lk(mu_);
    return requests_.size();
  }
  // True once at least `n` requests arrived, false after `timeout`.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return requests_.size() >= n; });
  }

  void Stop() {
    {
      std::lock_guard lk(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lk(mu_);
      threads.swap(connections_);
    }
    for (auto& t : threads) t.join();
    ::close(listen_fd_);
  }

 private:
  bool stopped() const {
    std::lock_guard lk(mu_);
    return stopped_;
  }

  void AcceptLoop() {
    while (!stopped()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lk(mu_);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // Reads into `buf` until `done(buf)` or the peer closes or the receiver stops.
  template <typename Done>
  bool ReadUntil(int fd, std::string& buf, Done done) {
    char chunk[4096];
    while (!done(buf)) {
      if (stopped()) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
    }
    return true;
  }

  void Serve(int fd) {
    std::string buf;
    if (!ReadUntil(fd, buf, [](const std::string& b) { return b.find("\r\n\r\n") != b.npos; })) {
      ::close(fd);
      return;
    }
    const size_t head_end = buf.find("\r\n\r\n");
    HttpRequest req;
    size_t line_end = buf.find("\r\n");
    const std::string first = buf.substr(0, line_end);
    const size_t sp1 = first.find(' '), sp2 = first.find(' ', sp1 + 1);
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    for (size_t pos = line_end + 2; pos < head_end;) {
      const size_t end = buf.find("\r\n", pos);
      const std::string line = buf.substr(pos, end - pos);
      const size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = colon == line.npos ? "" : line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      req.headers[name] = value;
      pos = end + 2;
    }
    const size_t length =
        req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
    if (!ReadUntil(fd, buf,
                   [&](const std::string& b) { return b.size() >= head_end + 4 + length; })) {
      ::close(fd);
      return;
    }
    req.body = buf.substr(head_end + 4, length);
    int number;
    {
      std::lock_guard lk(mu_);
      requests_.push_back(req);
      number = static_cast<int>(requests_.size());
    }
    cv_.notify_all();
    const HttpAnswer answer = handler_ ? handler_(req, number) : HttpAnswer{};
    if (answer.status < 0) {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopped_; });
    } else {
      const std::string response = "HTTP/1.1 " + std::to_string(answer.status) +
                                   " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                   std::to_string(answer.body.size()) +
                                   "\r\nConnection: close\r\n\r\n" + answer.body;
      ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
    }
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<HttpRequest> requests_;
  std::vector<std::thread> connections_;
  bool stopped_ = false;
};

}  // namespace ha::testing
