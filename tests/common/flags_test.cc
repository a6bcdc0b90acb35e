// common/flags.h, the parser of every duet program: both spellings of a name, values kept
// exactly as given (a model path with dashes and underscores), short names, switches,
// positionals, and errors that name the flag.
#include "common/flags.h"

#include "gtest/gtest.h"

namespace duet {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"model", "m", "model directory", ""},
    {"drain-ms", "", "drain deadline", "30000"},
    {"rerank", "", "order by score", "", /*is_switch=*/true},
};

StatusOr<Flags> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "program");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return Flags::Parse(kSpecs, static_cast<int>(argv.size()), argv.data(), 1);
}

TEST(FlagsTest, ValuesKeepTheirDashesAndUnderscores) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--model=/opt/duet/models/duet-emoji_v2", "--drain-ms=5"},
           {"--model", "/opt/duet/models/duet-emoji_v2", "--drain_ms", "5"},
           {"-m", "/opt/duet/models/duet-emoji_v2", "--drain_ms=5"}}) {
    auto flags = Parse(args);
    ASSERT_TRUE(flags.ok()) << flags.status();
    EXPECT_EQ(flags->Get("model"), "/opt/duet/models/duet-emoji_v2") << args[0];
    EXPECT_EQ(*flags->GetInt("drain-ms", 0, 10), 5);
    EXPECT_TRUE(flags->NoPositional().ok());
  }
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->Get("drain-ms"), "30000");
  EXPECT_FALSE(defaults->Has("rerank"));
}

TEST(FlagsTest, SwitchesPositionalsAndHelp) {
  auto flags = Parse({"a hat", "--rerank", "--", "--not-a-flag"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_TRUE(flags->Has("rerank"));
  EXPECT_EQ(flags->positional(), (std::vector<std::string>{"a hat", "--not-a-flag"}));
  EXPECT_EQ(flags->NoPositional().message(), "unexpected argument 'a hat'");
  EXPECT_TRUE(Parse({"-h"})->help());
  const std::string help = FlagsHelp("duet-x", "[flags]", "Does x.", kSpecs);
  EXPECT_EQ(help.rfind("Usage: duet-x [flags]\nDoes x.\n", 0), 0u) << help;
  EXPECT_NE(help.find("-m, --model VALUE"), std::string::npos) << help;
  EXPECT_NE(help.find("--drain-ms VALUE"), std::string::npos) << help;
  EXPECT_NE(help.find("(default: 30000)"), std::string::npos) << help;
}

TEST(FlagsTest, ErrorsNameTheFlagAsSpelled) {
  EXPECT_EQ(Parse({"--max-rows=5"}).status().message(), "unknown flag --max-rows");
  EXPECT_EQ(Parse({"-x"}).status().message(), "unknown flag -x");
  EXPECT_EQ(Parse({"--drain-ms"}).status().message(), "flag --drain-ms needs a value");
  EXPECT_EQ(Parse({"--drain-ms=1", "--drain_ms=2"}).status().message(),
            "flag --drain-ms given twice");
  EXPECT_EQ(Parse({"--rerank=yes"}).status().message(), "flag --rerank takes no value");
  auto range = Parse({"--drain-ms=11"});
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->GetInt("drain-ms", 0, 10).status().message(),
            "--drain-ms must be in [0, 10], got 11");
  auto text = Parse({"--drain-ms=soon"});
  EXPECT_EQ(text->GetInt("drain-ms", 0, 10).status().message(),
            "--drain-ms must be an integer, got \"soon\"");
}

}  // namespace
}  // namespace duet
