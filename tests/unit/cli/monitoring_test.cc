#include "cli/monitoring.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace ha::cli {
namespace {

constexpr const char* kPassword = "p%40ss-Zq81-never-shown";  // "p@ss-..." once decoded
constexpr const char* kToken = "tok-Hx42-never-shown";

// A loopback port nobody listens on (bound, then closed).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

Config DownDatabase() {
  Config c;
  c.mongo_uri = "mongodb://alice:" + std::string(kPassword) +
                "@127.0.0.1:" + std::to_string(ClosedPort()) + "/?serverSelectionTimeoutMS=300";
  c.mongo_db_name = "nowhere";
  c.service_token = kToken;
  return c;
}

void ExpectNoSecret(const std::string& text) {
  EXPECT_EQ(text.find("Zq81"), std::string::npos) << text;
  EXPECT_EQ(text.find("Hx42"), std::string::npos) << text;
}

TEST(UserAnalyticsFromDatabase, ADatabaseThatIsDownIsUnavailableWithoutSecrets) {
  UserAnalyticsLookup lookup = UserAnalyticsFromDatabase(DownDatabase());
  const auto start = std::chrono::steady_clock::now();
  auto r = lookup(*ObjectId::FromHex("65a1b2c3d4e5f60718293a4b"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().message();
  EXPECT_NE(r.status().message().find("analytics"), std::string::npos) << r.status().message();
  ExpectNoSecret(r.status().message());
}

TEST(UserAnalyticsFromDatabase, IsServedAsA503) {
  Monitor monitor(MonitorOptions{}, 0);
  HttpServer server(monitor);
  server.SetUserAnalyticsLookup(UserAnalyticsFromDatabase(DownDatabase()));
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(20);
  auto r = client.Get("/api/users/65a1b2c3d4e5f60718293a4b/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["userId"], "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(j["error"].get<std::string>().rfind("the database is unreachable", 0), 0u) << r->body;
  ExpectNoSecret(r->body);
}

}  // namespace
}  // namespace ha::cli
