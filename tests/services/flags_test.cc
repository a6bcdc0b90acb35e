// services/common/flags.h: both spellings of a flag's name, values kept exactly as given (a
// model path with dashes and underscores), and errors that name the flag.
#include "services/common/flags.h"

#include "gtest/gtest.h"

namespace duet::services {
namespace {

const std::map<std::string, ServerFlag> kSpecs = {
    {"model", {"", "model directory"}},
    {"drain_ms", {"30000", "drain deadline"}},
};

StatusOr<ServerFlags> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "server");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ServerFlags::Parse(static_cast<int>(argv.size()), argv.data(), kSpecs);
}

TEST(ServerFlagsTest, ValuesKeepTheirDashesAndUnderscores) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--model=/opt/duet/models/duet-emoji_v2", "--drain-ms=5"},
           {"--model", "/opt/duet/models/duet-emoji_v2", "--drain_ms", "5"},
           {"--model=/opt/duet/models/duet-emoji_v2", "--drain_ms=5"}}) {
    auto flags = Parse(args);
    ASSERT_TRUE(flags.ok()) << flags.status();
    EXPECT_EQ(flags->Get("model"), "/opt/duet/models/duet-emoji_v2") << args[0];
    EXPECT_EQ(*flags->GetInt("drain_ms", 0, 10), 5);
  }
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->Get("drain_ms"), "30000");
}

TEST(ServerFlagsTest, ErrorsNameTheFlagAsSpelled) {
  auto unknown = Parse({"--max-rows=5"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown flag --max-rows");
  auto missing = Parse({"--drain-ms"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "flag --drain-ms needs a value");
  auto positional = Parse({"model-dir"});
  ASSERT_FALSE(positional.ok());
  EXPECT_EQ(positional.status().message(), "unexpected argument 'model-dir'");
  auto range = Parse({"--drain-ms=11"});
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->GetInt("drain_ms", 0, 10).status().message(),
            "--drain-ms must be an integer in [0, 10], got '11'");
}

}  // namespace
}  // namespace duet::services
