// The --dtype choice: spellings, auto against the CPU's bf16 support, and the override that lets
// a bf16 machine act as one without it.
#include "common/compute_dtype.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace duet {
namespace {

TEST(ComputeDtype, ParsesEverySpellingAndNamesTheFieldOtherwise) {
  EXPECT_EQ(*ParseDtypeChoice("auto"), DtypeChoice::kAuto);
  EXPECT_EQ(*ParseDtypeChoice("bfloat16"), DtypeChoice::kBFloat16);
  EXPECT_EQ(*ParseDtypeChoice("bf16"), DtypeChoice::kBFloat16);
  EXPECT_EQ(*ParseDtypeChoice("float32"), DtypeChoice::kFloat32);
  EXPECT_EQ(*ParseDtypeChoice("fp32"), DtypeChoice::kFloat32);
  const auto bad = ParseDtypeChoice("float16", "--dtype");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "--dtype must be auto, bfloat16 or float32, got \"float16\"");
}

TEST(ComputeDtype, AutoPicksBf16OnlyWhenTheCpuHasIt) {
  EXPECT_EQ(ResolveDtype(DtypeChoice::kAuto, CpuBf16Support{}), c10::kFloat);
  EXPECT_EQ(ResolveDtype(DtypeChoice::kAuto, CpuBf16Support{false, true}), c10::kBFloat16);
  EXPECT_EQ(ResolveDtype(DtypeChoice::kAuto, CpuBf16Support{true, false}), c10::kBFloat16);
  // An explicit choice is kept whatever the CPU says.
  EXPECT_EQ(ResolveDtype(DtypeChoice::kBFloat16, CpuBf16Support{}), c10::kBFloat16);
  EXPECT_EQ(ResolveDtype(DtypeChoice::kFloat32, CpuBf16Support{true, true}), c10::kFloat);
}

TEST(ComputeDtype, EnvironmentOverrideReportsTheCpuAsAsked) {
  ASSERT_EQ(setenv("DUET_CPU_BF16", "0", 1), 0);
  EXPECT_FALSE(DetectCpuBf16().any());
  EXPECT_EQ(ResolveDtype(DtypeChoice::kAuto), c10::kFloat);
  ASSERT_EQ(setenv("DUET_CPU_BF16", "1", 1), 0);
  EXPECT_TRUE(DetectCpuBf16().any());
  EXPECT_EQ(ResolveDtype(DtypeChoice::kAuto), c10::kBFloat16);
  ASSERT_EQ(unsetenv("DUET_CPU_BF16"), 0);
}

TEST(ComputeDtype, NamesTheDtypes) {
  EXPECT_EQ(DtypeName(c10::kBFloat16), "bfloat16");
  EXPECT_EQ(DtypeName(c10::kFloat), "float32");
}

}  // namespace
}  // namespace duet
