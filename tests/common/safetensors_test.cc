// Safetensors: exact round trips, and every malformed file rejected with an error, never a crash.
#include "common/safetensors.h"

#include <cstring>
#include <random>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace duet {
namespace {

RawTensor MakeTensor(DType dtype, std::vector<int64_t> shape, uint32_t seed) {
  RawTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data.resize(t.numel() * DTypeSize(dtype));
  std::mt19937 rng(seed);
  for (char& c : t.data) c = static_cast<char>(rng());
  return t;
}

// A file image with the given JSON header and data section.
std::string FileWith(const std::string& header, const std::string& data, uint64_t claimed_len) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((claimed_len >> (8 * i)) & 0xff);
  return out + header + data;
}
std::string FileWith(const std::string& header, const std::string& data) {
  return FileWith(header, data, header.size());
}

TEST(Safetensors, RoundTripIsExact) {
  SafetensorsFile file;
  file.tensors["a.weight"] = MakeTensor(DType::kF32, {3, 5}, 1);
  file.tensors["b"] = MakeTensor(DType::kBF16, {7}, 2);
  file.tensors["c.ids"] = MakeTensor(DType::kI64, {2, 1, 3}, 3);
  file.tensors["empty"] = MakeTensor(DType::kU8, {0, 4}, 4);
  file.tensors["scalar"] = MakeTensor(DType::kF64, {}, 5);
  file.metadata["format"] = "pt";
  file.metadata["name"] = "duet-tiny 한국어";
  const std::string bytes = SerializeSafetensors(file);
  auto parsed = ParseSafetensors(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->metadata, file.metadata);
  ASSERT_EQ(parsed->tensors.size(), file.tensors.size());
  for (const auto& [name, t] : file.tensors) {
    const RawTensor& back = parsed->tensors.at(name);
    EXPECT_EQ(back.dtype, t.dtype) << name;
    EXPECT_EQ(back.shape, t.shape) << name;
    EXPECT_EQ(back.data, t.data) << name;
  }
  EXPECT_EQ(SerializeSafetensors(*parsed), bytes);
}

TEST(Safetensors, HeaderFollowsTheStandardLayout) {
  SafetensorsFile file;
  file.tensors["x"] = MakeTensor(DType::kF32, {2}, 9);
  const std::string bytes = SerializeSafetensors(file);
  uint64_t len = 0;
  std::memcpy(&len, bytes.data(), 8);  // Little-endian host.
  EXPECT_EQ(len % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, len));
  EXPECT_EQ(header["x"]["dtype"], "F32");
  EXPECT_EQ(header["x"]["shape"], nlohmann::json::array({2}));
  EXPECT_EQ(header["x"]["data_offsets"], nlohmann::json::array({0, 8}));
  EXPECT_EQ(bytes.size(), 8 + len + 8);
}

TEST(Safetensors, RejectsHeaderLongerThanFile) {
  const std::string header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const auto status = ParseSafetensors(FileWith(header, "abcd", 1'000'000)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("header length"), std::string::npos) << status;
  EXPECT_FALSE(ParseSafetensors(FileWith(header, "abcd", ~uint64_t{0})).ok());
}

TEST(Safetensors, RejectsShortFilesAndBadJson) {
  EXPECT_FALSE(ParseSafetensors("").ok());
  EXPECT_FALSE(ParseSafetensors(std::string(7, '\0')).ok());
  EXPECT_FALSE(ParseSafetensors(FileWith("{not json", "")).ok());
  EXPECT_FALSE(ParseSafetensors(FileWith("[1,2]", "")).ok());
}

TEST(Safetensors, RejectsTruncatedData) {
  SafetensorsFile file;
  file.tensors["x"] = MakeTensor(DType::kF32, {16}, 3);
  const std::string bytes = SerializeSafetensors(file);
  for (size_t cut : {size_t{1}, size_t{4}, size_t{63}}) {
    auto parsed = ParseSafetensors(bytes.substr(0, bytes.size() - cut));
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << cut;
  }
}

TEST(Safetensors, RejectsOverlappingAndOutOfRangeOffsets) {
  const std::string data(16, 'x');
  const std::string overlap =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  auto s = ParseSafetensors(FileWith(overlap, data.substr(0, 12))).status();
  EXPECT_NE(s.message().find("overlaps"), std::string::npos) << s;
  const std::string out_of_range = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
  s = ParseSafetensors(FileWith(out_of_range, data)).status();
  EXPECT_NE(s.message().find("outside"), std::string::npos) << s;
  const std::string reversed = R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})";
  EXPECT_FALSE(ParseSafetensors(FileWith(reversed, data)).ok());
  const std::string negative = R"({"a":{"dtype":"U8","shape":[16],"data_offsets":[-1,15]}})";
  EXPECT_FALSE(ParseSafetensors(FileWith(negative, data)).ok());
}

TEST(Safetensors, RejectsShapeThatDisagreesWithOffsets) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})";
  EXPECT_FALSE(ParseSafetensors(FileWith(header, std::string(16, 'x'))).ok());
  const std::string huge =
      R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})";
  EXPECT_FALSE(ParseSafetensors(FileWith(huge, std::string(16, 'x'))).ok());
  const std::string negative = R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})";
  EXPECT_FALSE(ParseSafetensors(FileWith(negative, std::string(16, 'x'))).ok());
}

// Found with tests/fuzz (safetensors): a zero-byte tensor whose leading dimensions multiply past
// int64 parsed, and RawTensor::numel() then overflowed (undefined behaviour) on it.
TEST(Safetensors, RejectsShapeThatOverflowsBeforeAZeroDimension) {
  const std::string header =
      R"({"a":{"dtype":"U8","shape":[3,4611686018427387904,0],"data_offsets":[0,0]}})";
  const Status status = ParseSafetensors(FileWith(header, "")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("tensor a is too large"), std::string::npos) << status;
  // With the 0 first every running product is 0: a valid empty tensor.
  const std::string empty =
      R"({"a":{"dtype":"U8","shape":[0,4611686018427387904,3],"data_offsets":[0,0]}})";
  const StatusOr<SafetensorsFile> file = ParseSafetensors(FileWith(empty, ""));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tensors.at("a").numel(), 0);
}

TEST(Safetensors, RejectsUnknownDtype) {
  const std::string header = R"({"a":{"dtype":"F8_E9","shape":[4],"data_offsets":[0,4]}})";
  const auto status = ParseSafetensors(FileWith(header, "abcd")).status();
  EXPECT_NE(status.message().find("unknown dtype"), std::string::npos) << status;
}

TEST(Safetensors, RejectsGapsAndTrailingBytes) {
  const std::string gap = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})";
  EXPECT_FALSE(ParseSafetensors(FileWith(gap, std::string(8, 'x'))).ok());
  const std::string trailing = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  EXPECT_FALSE(ParseSafetensors(FileWith(trailing, std::string(8, 'x'))).ok());
}

TEST(Safetensors, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes(rng() % 200, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (bytes.size() >= 8 && trial % 2 == 0) {  // Plausible length so the JSON parser runs.
      const uint64_t len = bytes.size() - 8;
      for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    }
    EXPECT_FALSE(ParseSafetensors(bytes).ok());
  }
}

}  // namespace
}  // namespace duet
