// Fuzzes the `.env` reader of LoadConfig (cli/config.h) through a `.env` file in a temporary
// working directory: the input, then two fixed lines setting MONGO_URI and SERVICE_TOKEN. Checked:
//   - LoadConfig succeeds or returns InvalidArgument, never crashes or throws;
//   - the last assignment of a variable wins, whatever lines come before it (an unterminated
//     quote or a stray '=' must not swallow the fixed lines);
//   - neither secret appears in an error message, nor the password in RedactUri(MONGO_URI).
// Built from src/cli/config.cc alone (see the HA_FUZZ block of CMakeLists.txt). The target
// changes its working directory: give libFuzzer absolute corpus and artifact paths.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "cli/config.h"
#include "fuzz_util.h"

namespace {

constexpr std::string_view kToken = "s3cr3t-T0KEN-xyz";
constexpr std::string_view kPassword = "p4ssw0rd-XYZ";
constexpr std::string_view kUri = "mongodb://admin:p4ssw0rd-XYZ@db.example:27017/health?tls=true";

// A working directory of its own for the whole run, and no configuration from the environment.
void Setup() {
  static const std::string* const dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* path =
        new std::string(std::string(tmp != nullptr ? tmp : "/tmp") + "/ha-fuzz-env-XXXXXX");
    if (mkdtemp(path->data()) == nullptr || chdir(path->c_str()) != 0) std::abort();
    std::atexit([] {
      const std::filesystem::path cwd = std::filesystem::current_path();
      std::error_code ec;
      std::filesystem::current_path("/", ec);
      std::filesystem::remove_all(cwd, ec);
    });
    clearenv();  // nothing from the environment: only .env configures
    return path;
  }();
  (void)dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Setup();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  {
    std::ofstream env(".env", std::ios::binary | std::ios::trunc);
    env << input << "\nMONGO_URI=" << kUri << "\nSERVICE_TOKEN='" << kToken << "'\n";
  }
  const bool secrets_in_input = input.find(kToken) != std::string_view::npos ||
                                input.find(kPassword) != std::string_view::npos;
  auto config = ha::cli::LoadConfig({}, ha::cli::ConfigScope::kFull, /*require_mongo=*/false);
  if (!config.ok()) {
    if (config.status().code() != ha::StatusCode::kInvalidArgument)
      ha::fuzz::Fail("LoadConfig failed other than with InvalidArgument", input);
    const std::string& m = config.status().message();
    if (!secrets_in_input &&
        (m.find(kToken) != std::string::npos || m.find(kPassword) != std::string::npos))
      ha::fuzz::Fail("a secret in an error message: " + m, input);
    return 0;
  }
  if (config->mongo_uri != kUri || config->service_token != kToken)
    ha::fuzz::Fail("the last assignment in .env did not win: MONGO_URI '" + config->mongo_uri +
                       "', SERVICE_TOKEN '" + config->service_token + "'",
                   input);
  if (ha::cli::RedactUri(config->mongo_uri).find(kPassword) != std::string::npos)
    ha::fuzz::Fail("RedactUri shows the password", input);
  return 0;
}
