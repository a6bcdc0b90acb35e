// The duet CLI as a user runs it: real processes, real files, exit codes and messages.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/model/tiny_duet.h"
#include "vision/image_io.h"

namespace duet::tools {
namespace {

using model::testing::TempDir;

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs `duet args`; `env` ("NAME=value ...") is set for that process only.
Result RunCli(const std::string& args, const std::string& env = "") {
  const std::string command =
      (env.empty() ? "" : "env " + env + " ") + std::string(DUET_CLI_PATH) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  for (size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    model::testing::WriteTinyModel(dir_->path() + "/model");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string ModelDir() { return dir_->path() + "/model"; }
  static TempDir* dir_;
};
TempDir* CliTest::dir_ = nullptr;

// Every command, in process and through a gateway (--server), as `duet --help` lists them.
const std::vector<std::string>& AllCommandLines() {
  static const std::vector<std::string> commands = {
      "generate", "generate --server=x", "caption", "caption --server=x", "up", "health",
      "data",     "train",               "eval",    "init-model"};
  return commands;
}

TEST_F(CliTest, EveryCommandHasHelp) {
  const Result top = RunCli("--help");
  EXPECT_EQ(top.exit_code, 0);
  for (const std::string& command : AllCommandLines()) {
    const std::string name = command.substr(0, command.find(' '));
    EXPECT_NE(top.output.find("  " + name + " "), std::string::npos) << name << "\n" << top.output;
    const Result r = RunCli(command + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.output.find("Usage: duet " + name), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("-h, --help"), std::string::npos) << r.output;
  }
  const Result unknown = RunCli("paint");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("unknown command \"paint\""), std::string::npos);
}

// A short flag means the same long flag in every command that has it (-m is always --model).
TEST_F(CliTest, ShortFlagsMeanTheSameInEveryCommand) {
  std::map<char, std::pair<std::string, std::string>> meaning;  // letter -> (long flag, command)
  int shorts = 0;
  for (const std::string& command : AllCommandLines()) {
    std::istringstream help(RunCli(command + " --help").output);
    for (std::string line; std::getline(help, line);) {
      // "  -m, --model VALUE   model directory"
      const size_t dash = line.find_first_not_of(' ');
      if (dash == std::string::npos || line.compare(dash, 1, "-") != 0 ||
          line.compare(dash + 2, 4, ", --") != 0) {
        continue;
      }
      const char letter = line[dash + 1];
      const std::string flag = line.substr(dash + 4, line.find(' ', dash + 4) - dash - 4);
      ++shorts;
      const auto [it, added] = meaning.emplace(letter, std::make_pair(flag, command));
      EXPECT_EQ(it->second.first, flag) << "-" << letter << " is " << it->second.first << " in '"
                                        << it->second.second << "' but " << flag << " in '"
                                        << command << "'";
    }
  }
  EXPECT_GE(shorts, 20);  // the help was read: -h in every command, -m, -n, -o, -s in several
  EXPECT_EQ(meaning['m'].first, "--model");
  EXPECT_EQ(meaning['o'].first, "--out");
}

// The wrapper every command runs in: unknown flags and missing required flags are usage
// errors (exit 2), failures of the command itself exit 1, each as "duet CMD: CODE: message".
TEST_F(CliTest, EveryCommandReportsErrorsTheSameWay) {
  for (const std::string& command : AllCommandLines()) {
    const std::string name = command.substr(0, command.find(' '));
    const Result unknown = RunCli(command + " --no-such-flag");
    EXPECT_EQ(unknown.exit_code, 2) << command << "\n" << unknown.output;
    EXPECT_NE(unknown.output.find("duet " + name + ": INVALID_ARGUMENT: unknown flag --no-such-flag"),
              std::string::npos)
        << unknown.output;
  }
  for (const std::string& command : {std::string("generate hat"), std::string("up"),
                                     std::string("health"), std::string("eval")}) {
    const Result missing = RunCli(command);
    EXPECT_EQ(missing.exit_code, 2) << command << "\n" << missing.output;
    EXPECT_NE(missing.output.find("is required"), std::string::npos) << missing.output;
  }
  const Result failed = RunCli("generate --model /nonexistent/model hat");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("duet generate: NOT_FOUND: cannot open /nonexistent/model/"),
            std::string::npos)
      << failed.output;
}

TEST_F(CliTest, InitModelWritesALoadableDirectory) {
  TempDir out;
  const std::string config = out.path() + "/config.json";
  ASSERT_TRUE(WriteJsonFile(config, model::testing::TinyModelConfig().ToJson()).ok());
  const Result r = RunCli("init-model --config " + config + " -o " + out.path() + "/m --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* file : {"config.json", "tokenizer.model", "model.safetensors"}) {
    EXPECT_TRUE(std::filesystem::exists(out.path() + "/m/" + file)) << file;
  }
  EXPECT_TRUE(model::DuetModel::Load(out.path() + "/m").ok());
}

TEST_F(CliTest, GenerateWritesDraftsWithMetadata) {
  TempDir out;
  const Result r = RunCli("generate --model " + ModelDir() + " -n 3 --seed 40 -o " + out.path() +
                       " \"a pumpkin-shaped hat\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 0; i < 3; ++i) {
    const std::string path = out.path() + "/draft_00" + std::to_string(i) + "_seed_" +
                             std::to_string(40 + i) + ".png";
    auto png = ReadFile(path);
    ASSERT_TRUE(png.ok()) << path << "\n" << r.output;
    auto text = vision::ReadPngText(*png);
    ASSERT_TRUE(text.ok());
    std::map<std::string, std::string> keys(text->begin(), text->end());
    EXPECT_EQ(keys["prompt"], "a pumpkin-shaped hat");
    EXPECT_EQ(keys["seed"], std::to_string(40 + i));
    EXPECT_EQ(keys["model"], "duet-test-tiny");
  }
}

// Unset sampling flags come from the model's config.json ("sampling"); a flag given wins.
TEST_F(CliTest, GenerateTakesUnsetSamplingFromTheModelConfig) {
  TempDir dir;
  const std::string model = dir.path() + "/model";
  model::testing::WriteTinyModel(model);
  auto config = ReadJsonFile(model + "/config.json");
  ASSERT_TRUE(config.ok());
  (*config)["sampling"] = {{"guidance_scale", 2.5}, {"top_k", 7}, {"temperature", 0.75}};
  ASSERT_TRUE(WriteJsonFile(model + "/config.json", *config).ok());
  auto keys_of = [&](const std::string& flags) {
    TempDir out;
    const Result r = RunCli("generate --model " + model + " -n 1 -o " + out.path() + flags + " hat");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto png = ReadFile(out.path() + "/draft_000_seed_0.png");
    EXPECT_TRUE(png.ok()) << r.output;
    auto text = vision::ReadPngText(png.ok() ? *png : std::string());
    std::map<std::string, std::string> keys;
    if (text.ok()) keys.insert(text->begin(), text->end());
    return keys;
  };
  auto keys = keys_of("");
  EXPECT_EQ(keys["guidance_scale"], "2.5");
  EXPECT_EQ(keys["top_k"], "7");
  EXPECT_EQ(keys["temperature"], "0.75");
  keys = keys_of(" --guidance 1 --top-k 0");
  EXPECT_EQ(keys["guidance_scale"], "1");
  EXPECT_EQ(keys["top_k"], "0");
  EXPECT_EQ(keys["temperature"], "0.75");
  // A bad default is named at load.
  (*config)["sampling"] = {{"top_p", 1.5}};
  ASSERT_TRUE(WriteJsonFile(model + "/config.json", *config).ok());
  TempDir out;
  const Result bad = RunCli("generate --model " + model + " -o " + out.path() + " hat");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("sampling: top_p"), std::string::npos) << bad.output;
}

TEST_F(CliTest, CaptionPrintsOneLinePerImageAndReportsBadFiles) {
  TempDir out;
  ASSERT_EQ(RunCli("generate --model " + ModelDir() + " -n 2 -o " + out.path() + " hat").exit_code, 0);
  const std::string good = out.path() + "/draft_000_seed_0.png";
  const std::string bad = out.path() + "/not_an_image.png";
  ASSERT_TRUE(WriteFileAtomic(bad, "GIF89a not really").ok());
  const Result r = RunCli("caption --format tsv --model " + ModelDir() + " " + good + " " + bad +
                          " " + out.path() + "/draft_001_seed_1.png");
  EXPECT_EQ(r.exit_code, 1);  // One file failed; the others were still captioned.
  EXPECT_NE(r.output.find(good + "\t"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("draft_001_seed_1.png\t"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not_an_image.png: image 0: image is not PNG or JPEG"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("duet caption: 2 captioned, 1 failed"), std::string::npos) << r.output;
  // The default, JSON lines: every input in order, the bad one as an error line.
  const Result json = RunCli("caption --model " + ModelDir() + " " + good + " " + bad);
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_NE(json.output.find("{\"caption\":"), std::string::npos) << json.output;
  EXPECT_NE(json.output.find("\"error\":\"image 0: image is not PNG or JPEG"), std::string::npos)
      << json.output;
  EXPECT_EQ(RunCli("caption --format csv --model " + ModelDir() + " " + good).exit_code, 1);
}

TEST_F(CliTest, BadArgumentsAreNamed) {
  const std::string model = " --model " + ModelDir();
  struct Case {
    std::string args, message;
  } cases[] = {
      {"generate" + model + " -n 0 hat", "--count must be in [1, 256], got 0"},
      {"generate" + model + " --top-p 1.5 hat", "--top-p must be in"},
      {"generate" + model + " --temperature nan hat", "--temperature must be a number"},
      {"generate" + model + " --seed -3 hat", "--seed must be an integer"},
      {"generate" + model + " --frobnicate hat", "unknown flag --frobnicate"},
      {"generate" + model, "expected exactly one prompt"},
      {"generate" + model + " --dtype float16 hat",
       "--dtype must be auto, bfloat16 or float32, got \"float16\""},
      {"caption" + model + " --dtype half x.png", "--dtype must be auto, bfloat16 or float32"},
      {"generate --model /nonexistent hat", "/nonexistent/config.json"},
      {"caption" + model, "expected image files"},
      {"init-model -o x", "--config is required"},
  };
  for (const Case& c : cases) {
    const Result r = RunCli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST_F(CliTest, DtypeIsLoggedAndEveryChoiceDrawsTheSameKindOfDrafts) {
  for (const char* dtype : {"float32", "bfloat16"}) {
    TempDir out;
    const Result r = RunCli(std::string("generate --dtype ") + dtype + " --model " + ModelDir() +
                            " -n 2 -o " + out.path() + " hat");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(std::string("computing in ") + dtype + " (as asked)"),
              std::string::npos) << r.output;
    EXPECT_TRUE(std::filesystem::exists(out.path() + "/draft_001_seed_1.png")) << r.output;
  }
}

TEST_F(CliTest, ACpuWithoutBf16RunsEverythingInFloat32) {
  // DUET_CPU_BF16=0 makes this machine report no bf16 instructions, as an older CPU would.
  TempDir out;
  const Result r = RunCli("generate --model " + ModelDir() + " -n 2 -o " + out.path() + " hat",
                          "DUET_CPU_BF16=0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string& output = r.output;
  EXPECT_NE(output.find("computing in float32 (auto; CPU has no bf16 instructions)"),
            std::string::npos) << output;
  EXPECT_TRUE(std::filesystem::exists(out.path() + "/draft_001_seed_1.png")) << output;
}

}  // namespace
}  // namespace duet::tools
