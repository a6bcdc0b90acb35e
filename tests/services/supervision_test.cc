// `duet up` as a supervisor: a SIGTERM during start-up stops it cleanly with no server left
// behind, and a server that is killed is restarted on its address while the others keep serving.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "services/common/wire.h"
#include "tests/services/test_cluster.h"
#include "tools/client/child_process.h"
#include "tools/client/health.h"

namespace duet::services::testing {
namespace {

using client::ChildProcess;
using std::chrono::milliseconds;

std::string Bin(const std::string& name) { return std::string(DUET_BIN_DIR) + "/" + name; }

// Live children of `parent` (pid -> argv[0]), read from /proc.
std::map<pid_t, std::string> ChildrenOf(pid_t parent) {
  std::map<pid_t, std::string> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid != parent || state == 'Z') continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string argv0;
    std::getline(cmdline, argv0, '\0');
    children[std::stoi(name)] = argv0;
  }
  return children;
}

bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

// The real `duet` binary: it loads LibTorch's BLAS, whose threads start before main() and do not
// block SIGTERM, so a signal during start-up lands on one of them. Its stderr (the supervisor's
// log) goes to `log`; `exec` keeps the pid.
std::unique_ptr<ChildProcess> SpawnUp(const std::string& log) {
  const std::string command = "exec '" + Bin("duet") + "' up --model '" + TinyModelDir() +
                              "' --listen 127.0.0.1:0 --bin-dir '" + DUET_BIN_DIR +
                              "' --drain-ms 2000 2> '" + log + "'";
  return *ChildProcess::Spawn({"/bin/sh", "-c", command});
}

std::string LogPath(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("duet_up_" + name + "_" + std::to_string(::getpid()) + ".log");
}

std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SupervisionTest, SigtermDuringStartupStopsCleanlyAndLeavesNoServer) {
  const std::string log = LogPath("startup");
  auto up = SpawnUp(log);
  std::map<pid_t, std::string> started;
  for (int i = 0; i < 6000 && started.empty(); ++i) {  // the first server is being started
    std::this_thread::sleep_for(milliseconds(5));
    started = ChildrenOf(up->pid());
  }
  ASSERT_FALSE(started.empty());
  up->Signal(SIGTERM);
  StatusOr<int> code = up->Wait(milliseconds(60000));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);  // not 128 + SIGTERM: the signal was caught, not fatal
  for (const auto& [pid, name] : started) {
    const bool alive = Alive(pid);
    EXPECT_FALSE(alive) << name << " was left running";
    if (alive) kill(pid, SIGKILL);
  }
  std::filesystem::remove(log);
}

// Generates one draft through the gateway; OK once every backend answers.
grpc::Status GenerateOne(const std::string& gateway) {
  v1::GenerateImagesRequest request;
  request.set_prompt("a red apple");
  request.set_count(1);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = v1::Duet::NewStub(MakeChannel(gateway))->GenerateImages(&context, request);
  v1::GenerateImagesResponse message;
  while (reader->Read(&message)) {
  }
  return reader->Finish();
}

TEST(SupervisionTest, KilledServerIsRestartedOnItsAddressAndOthersKeepServing) {
  const std::string log = LogPath("restart");
  auto up = SpawnUp(log);
  std::vector<std::string> addresses;
  for (int i = 0; i < 4; ++i) {
    StatusOr<std::string> address = up->WaitForAddress(milliseconds(120000));
    ASSERT_TRUE(address.ok()) << address.status();
    addresses.push_back(*address);
  }
  const std::string transformer = addresses[2], gateway = addresses[3];
  ASSERT_TRUE(GenerateOne(gateway).ok());
  const std::map<pid_t, std::string> before = ChildrenOf(up->pid());
  ASSERT_EQ(before.size(), 4u);
  // Killed twice: the second kill shows the supervisor saw the first restart come up.
  std::map<pid_t, std::string> after = before;
  for (int round = 0; round < 2; ++round) {
    pid_t killed = 0;
    for (const auto& [pid, name] : after) {
      if (name.find("duet-transformer") != std::string::npos) killed = pid;
    }
    ASSERT_NE(killed, 0);
    kill(killed, SIGKILL);
    // Back on the same address, with a new process; the other three were never restarted.
    for (int i = 0; i < 600 && ChildrenOf(up->pid()).count(killed); ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    ASSERT_TRUE(client::WaitServing(transformer, milliseconds(60000)).ok());
    grpc::Status generated;
    for (int i = 0; i < 100 && !(generated = GenerateOne(gateway)).ok(); ++i) {
      std::this_thread::sleep_for(milliseconds(100));  // the gateway reconnects with backoff
    }
    EXPECT_TRUE(generated.ok()) << generated.error_message();
    after = ChildrenOf(up->pid());
    EXPECT_EQ(after.size(), 4u);
    for (const auto& [pid, name] : before) {
      if (name.find("duet-transformer") == std::string::npos) {
        EXPECT_TRUE(after.count(pid)) << name << " was restarted too";
      }
    }
    EXPECT_FALSE(after.count(killed));
    EXPECT_FALSE(up->Wait(milliseconds(0)).ok());  // duet up itself is still running
    const std::string restarted = "transformer restarted (" + std::to_string(round + 1);
    for (int i = 0; i < 500 && ReadLog(log).find(restarted) == std::string::npos; ++i) {
      std::this_thread::sleep_for(milliseconds(10));  // seen on its next poll
    }
    EXPECT_NE(ReadLog(log).find(restarted), std::string::npos) << ReadLog(log);
  }

  EXPECT_EQ(ReadLog(log).find("failed to restart"), std::string::npos) << ReadLog(log);
  up->Signal(SIGTERM);
  StatusOr<int> code = up->Wait(milliseconds(60000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace duet::services::testing
