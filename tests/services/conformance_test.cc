// The CLI in process (`duet ... --model DIR`) and through `duet up` (`duet ... --server ADDR`)
// must be one tool: for each scenario both runs are diffed on their exit code, the names and
// bytes of every file written, and stdout (with the output directory as the only difference).
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/services/test_cluster.h"
#include "tools/client/child_process.h"

namespace duet::services::testing {
namespace {

using client::ChildProcess;
using std::chrono::milliseconds;

struct CliRun {
  int code = 0;
  std::string stdout_text;                      // the run's directory replaced by "OUT"
  std::map<std::string, std::string> files;     // name -> bytes, of the run's directory
};

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class ConformanceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    up_ = ChildProcess::Spawn({Bin("duet"), "up", "--model", TinyModelDir(), "--listen",
                               "127.0.0.1:0", "--bin-dir", DUET_BIN_DIR, "--dtype", "bfloat16"})
              ->release();
    for (int i = 0; i < 4; ++i) {
      StatusOr<std::string> address = up_->WaitForAddress(milliseconds(120000));
      ASSERT_TRUE(address.ok()) << address.status();
      gateway_ = *address;  // the gateway is announced last
    }
    inputs_ = std::filesystem::temp_directory_path() /
              ("duet_conformance_" + std::to_string(::getpid()));
    std::filesystem::create_directories(inputs_);
    ASSERT_TRUE(WriteFileAtomic(inputs_ + "/a.png", TestPng(32, 1)).ok());
    ASSERT_TRUE(WriteFileAtomic(inputs_ + "/b.png", TestPng(48, 2)).ok());
    ASSERT_TRUE(WriteFileAtomic(inputs_ + "/c.png", "not an image").ok());
  }
  static void TearDownTestSuite() {
    up_->Signal(SIGTERM);
    EXPECT_TRUE(up_->Wait(milliseconds(60000)).ok());
    delete up_;
    std::filesystem::remove_all(inputs_);
  }

  // `duet <command> <mode flags> <args>` in a fresh directory; `{out}` in args names it.
  static CliRun Duet(bool remote, const std::string& command, std::vector<std::string> args) {
    static int runs = 0;
    const std::string out = inputs_ + "/run" + std::to_string(runs++);
    std::vector<std::string> argv = {Bin("duet"), command};
    if (remote) {
      argv.insert(argv.end(), {"--server", gateway_});
    } else {
      argv.insert(argv.end(), {"--model", TinyModelDir(), "--dtype", "bfloat16"});
    }
    for (std::string& a : args) argv.push_back(Replace(a, "{out}", out));
    auto [code, text] = RunCommand(argv);
    CliRun run{code, Replace(text, out, "OUT"), {}};
    if (std::filesystem::exists(out)) {
      for (const auto& entry : std::filesystem::directory_iterator(out)) {
        run.files[entry.path().filename().string()] = ReadFile(entry.path().string()).value_or("");
      }
    }
    return run;
  }

  static void ExpectSame(const std::string& command, const std::vector<std::string>& args) {
    const CliRun local = Duet(false, command, args), remote = Duet(true, command, args);
    SCOPED_TRACE(command + " " + (args.empty() ? "" : args.back()));
    EXPECT_EQ(local.code, remote.code);
    EXPECT_EQ(local.stdout_text, remote.stdout_text);
    ASSERT_EQ(local.files.size(), remote.files.size());
    for (const auto& [name, bytes] : local.files) {
      ASSERT_EQ(remote.files.count(name), 1u) << name;
      EXPECT_TRUE(remote.files.at(name) == bytes) << name << " differs";
    }
  }

  static ChildProcess* up_;
  static std::string gateway_, inputs_;
};
ChildProcess* ConformanceTest::up_ = nullptr;
std::string ConformanceTest::gateway_, ConformanceTest::inputs_;

TEST_F(ConformanceTest, Generate) {
  ExpectSame("generate", {"-n", "3", "--seed", "5", "-o", "{out}", "a red sports car"});
  const CliRun run = Duet(true, "generate", {"-n", "2", "-o", "{out}", "호박 모양 모자"});
  EXPECT_EQ(run.code, 0);
  EXPECT_EQ(run.files.size(), 3u);  // two drafts and the contact sheet
  EXPECT_EQ(run.files.count("draft_001_seed_1.png"), 1u);
}

TEST_F(ConformanceTest, GenerateReranked) {
  ExpectSame("generate", {"-n", "4", "--seed", "2", "--rerank", "-o", "{out}", "a snowy mountain"});
}

// A prompt longer than the model's text prefix, reranked: refused the same way in both (it
// used to fail in process and be cut silently through the gateway).
TEST_F(ConformanceTest, LongPromptReranked) {
  const std::vector<std::string> args = {
      "-n", "2", "--rerank", "-o", "{out}",
      "a very small red sports car with two white stripes parked beside a tall old lighthouse "
      "on a windy grey morning near the sea"};
  ExpectSame("generate", args);
  EXPECT_EQ(Duet(true, "generate", args).code, 1);
}

TEST_F(ConformanceTest, GenerateBadInput) {
  ExpectSame("generate", {"-n", "0", "-o", "{out}", "hat"});           // out of range: exit 1
  ExpectSame("generate", {"--temperature", "-1", "-o", "{out}", "hat"});
  ExpectSame("generate", {"--no-such-flag", "-o", "{out}", "hat"});     // usage: exit 2
  EXPECT_EQ(Duet(true, "generate", {"-n", "0", "hat"}).code, 1);
  EXPECT_EQ(Duet(false, "generate", {"--bogus", "hat"}).code, 2);
}

TEST_F(ConformanceTest, CaptionBothFormatsAndFailures) {
  const std::string a = inputs_ + "/a.png", b = inputs_ + "/b.png", c = inputs_ + "/c.png";
  const std::string missing = inputs_ + "/missing.png";
  ExpectSame("caption", {a, b});
  ExpectSame("caption", {"--format", "tsv", a, b});
  // A bad and a missing file: reported in place, the others captioned, exit 1 both ways.
  const CliRun local = Duet(false, "caption", {a, c, missing, b});
  const CliRun remote = Duet(true, "caption", {a, c, missing, b});
  EXPECT_EQ(local.code, 1);
  EXPECT_EQ(remote.code, 1);
  std::istringstream l(local.stdout_text), r(remote.stdout_text);
  int lines = 0;
  for (std::string x, y; std::getline(l, x) && std::getline(r, y); ++lines) {
    const bool error = x.find("\"error\"") != std::string::npos;
    EXPECT_EQ(error, y.find("\"error\"") != std::string::npos) << x << "\n" << y;
    if (!error) EXPECT_EQ(x, y);  // error texts may name different layers; the rest matches
  }
  EXPECT_EQ(lines, 4);
  ExpectSame("caption", {"--dir", inputs_ + "/none"});  // a --dir that does not exist
}

}  // namespace
}  // namespace duet::services::testing
