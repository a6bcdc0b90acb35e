// TextEncoder: shapes, padding invariance, bidirectional mixing, parameter names, config JSON,
// input checks, and the golden comparison with tests/reference/text_encoder_ref.py.
#include "language/text_encoder.h"

#include <set>
#include <string>

#include "common/file.h"
#include "common/safetensors.h"
#include "common/tensor_io.h"
#include "gtest/gtest.h"

namespace duet::language {
namespace {

TextEncoderConfig SmallConfig() {
  TextEncoderConfig config;
  config.vocab_size = 40;
  config.max_len = 12;
  config.d_model = 16;
  config.n_layers = 2;
  config.n_heads = 4;
  config.d_ff = 32;
  return config;
}

// A small encoder with weights large enough (std 0.3) that every interaction is visible.
TextEncoder MakeSmallEncoder() {
  torch::manual_seed(7);
  auto encoder = MakeTextEncoder(SmallConfig());
  EXPECT_TRUE(encoder.ok()) << encoder.status();
  torch::NoGradGuard no_grad;
  for (auto& p : (*encoder)->parameters()) p.normal_(0.0, 0.3);
  return *encoder;
}

torch::Tensor Ids(std::vector<int64_t> values) {
  return torch::tensor(values, torch::kInt64).view({1, -1});
}
torch::Tensor Lengths(std::vector<int64_t> values) { return torch::tensor(values, torch::kInt64); }

torch::Tensor Forward(TextEncoder& encoder, const torch::Tensor& ids,
                      const torch::Tensor& lengths) {
  auto out = EncodeText(encoder, ids, lengths);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : torch::Tensor();
}

TEST(TextEncoder, OutputShapeAndZeroPadding) {
  TextEncoder encoder = MakeSmallEncoder();
  const torch::Tensor ids = torch::randint(0, 40, {2, 7}, torch::kInt64);
  const torch::Tensor out = Forward(encoder, ids, Lengths({7, 3}));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 7, 16}));
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  EXPECT_TRUE(torch::all(out[1].slice(0, 3).eq(0)).item<bool>());
  EXPECT_GT(out[1].slice(0, 0, 3).abs().min().item<float>(), 0.0f);
}

TEST(TextEncoder, PaddingBeyondLengthChangesNothing) {
  TextEncoder encoder = MakeSmallEncoder();
  const torch::Tensor short_out = Forward(encoder, Ids({5, 9, 13}), Lengths({3}));
  const torch::Tensor padded_out = Forward(encoder, Ids({5, 9, 13, 0, 0, 0, 0}), Lengths({3}));
  const torch::Tensor other_pad = Forward(encoder, Ids({5, 9, 13, 31, 2, 17, 39}), Lengths({3}));
  EXPECT_TRUE(torch::allclose(padded_out.slice(1, 0, 3), short_out, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(other_pad, padded_out, 1e-6, 1e-7));
}

TEST(TextEncoder, ChangingOneRealTokenChangesEveryRealPosition) {
  TextEncoder encoder = MakeSmallEncoder();
  const torch::Tensor base = Forward(encoder, Ids({5, 9, 13, 21, 8, 0}), Lengths({5}));
  const torch::Tensor changed = Forward(encoder, Ids({5, 9, 13, 21, 30, 0}), Lengths({5}));
  const torch::Tensor diff = (base - changed).abs().amax(-1)[0];  // [T]
  for (int t = 0; t < 5; ++t) EXPECT_GT(diff[t].item<float>(), 1e-4f) << "position " << t;
  EXPECT_EQ(diff[5].item<float>(), 0.0f);
}

TEST(TextEncoder, ParameterNamesAndInitialization) {
  auto encoder = MakeTextEncoder(SmallConfig());
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  std::set<std::string> names;
  for (const auto& item : (*encoder)->named_parameters()) names.insert(item.key());
  std::set<std::string> expected = {"token_embedding.weight", "position_embedding.weight",
                                    "final_norm.weight", "final_norm.bias"};
  for (const std::string layer : {"layers.0.", "layers.1."}) {
    for (const char* module :
         {"norm1", "attention.qkv", "attention.proj", "norm2", "mlp.fc1", "mlp.fc2"}) {
      expected.insert(layer + module + ".weight");
      expected.insert(layer + module + ".bias");
    }
  }
  EXPECT_EQ(names, expected);
  const auto params = (*encoder)->named_parameters();
  EXPECT_EQ(params["layers.1.attention.qkv.weight"].sizes(), (std::vector<int64_t>{48, 16}));
  EXPECT_TRUE(params["layers.0.mlp.fc1.bias"].eq(0).all().item<bool>());
  EXPECT_TRUE(params["final_norm.weight"].eq(1).all().item<bool>());
  const float std = params["token_embedding.weight"].std().item<float>();
  EXPECT_NEAR(std, 0.02f, 0.004f);
}

TEST(TextEncoderConfig, JsonRoundTripAndDefaults) {
  const TextEncoderConfig config = SmallConfig();
  auto back = TextEncoderConfig::FromJson(config.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), config.ToJson());
  EXPECT_EQ(back->d_ff, 32);
  auto partial = TextEncoderConfig::FromJson({{"d_model", 64}});
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->d_model, 64);
  EXPECT_EQ(partial->ToJson(), [] {
    TextEncoderConfig c;
    c.d_model = 64;
    return c.ToJson();
  }());
}

TEST(TextEncoderConfig, RejectsBadValuesNamingTheKey) {
  const std::pair<nlohmann::json, std::string> cases[] = {
      {{{"d_model", "128"}}, "text_encoder.d_model"},
      {{{"vocab_size", 1.5}}, "text_encoder.vocab_size"},
      {{{"n_layers", true}}, "text_encoder.n_layers"},
      {{{"max_len", 0}}, "text_encoder.max_len"},
      {{{"d_ff", -4}}, "text_encoder.d_ff"},
      {{{"vocab_size", int64_t{1} << 40}}, "text_encoder.vocab_size"},
      {{{"n_heads", 3}}, "n_heads"},
      {{{"n_layer", 2}}, "text_encoder.n_layer"},
      {nlohmann::json::array({1, 2}), "text_encoder"},
  };
  for (const auto& [json, key] : cases) {
    const auto config = TextEncoderConfig::FromJson(json);
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << json.dump();
    EXPECT_NE(config.status().message().find(key), std::string::npos) << config.status();
  }
  TextEncoderConfig odd;
  odd.d_model = 130;
  EXPECT_EQ(odd.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(MakeTextEncoder(odd).ok());
}

TEST(TextEncoder, EncodeTextRejectsBadInputs) {
  TextEncoder encoder = MakeSmallEncoder();
  const auto expect_invalid = [&](const torch::Tensor& ids, const torch::Tensor& lengths,
                                  const std::string& needle) {
    const auto out = EncodeText(encoder, ids, lengths);
    ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(out.status().message().find(needle), std::string::npos) << out.status();
  };
  expect_invalid(Ids({1, 40}), Lengths({2}), "ids[0][1] must be in [0, 39], got 40");
  expect_invalid(Ids({1, -1, 3}), Lengths({2}), "ids[0][1] must be in [0, 39], got -1");
  expect_invalid(Ids({1, 2}), Lengths({0}), "lengths[0] must be in [1, 2], got 0");
  expect_invalid(Ids({1, 2}), Lengths({3}), "lengths[0] must be in [1, 2], got 3");
  expect_invalid(torch::zeros({1, 13}, torch::kInt64), Lengths({1}), "ids length T");
  expect_invalid(Ids({1, 2}).to(torch::kInt32), Lengths({2}), "ids must be");
  expect_invalid(Ids({1, 2}), Lengths({2, 2}), "lengths must be");
}

// The independent Python reference (float64) and this implementation (float32) must agree.
TEST(TextEncoder, MatchesPythonReference) {
  const std::string dir = std::string(DUET_TESTDATA_DIR) + "/text_encoder/";
  auto json = ReadJsonFile(dir + "config.json");
  ASSERT_TRUE(json.ok()) << json.status();
  auto config = TextEncoderConfig::FromJson(*json);
  ASSERT_TRUE(config.ok()) << config.status();
  auto encoder = MakeTextEncoder(*config);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  auto weights = ReadSafetensors(dir + "weights.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->tensors.size(), (*encoder)->named_parameters().size());
  ASSERT_TRUE(LoadModule(*weights, "", encoder->get()).ok());
  auto golden = ReadSafetensors(dir + "golden.safetensors");
  ASSERT_TRUE(golden.ok()) << golden.status();
  const torch::Tensor ids = *ToTorch(golden->tensors.at("ids"));
  const torch::Tensor lengths = *ToTorch(golden->tensors.at("lengths"));
  const torch::Tensor expected = *ToTorch(golden->tensors.at("expected"));
  ASSERT_EQ(expected.sizes(), (std::vector<int64_t>{3, 9, 32}));
  auto out = EncodeText(*encoder, ids, lengths);
  ASSERT_TRUE(out.ok()) << out.status();
  const torch::Tensor error = (out->to(torch::kFloat64) - expected).abs();
  const torch::Tensor tolerance = 1e-5 * expected.abs().clamp_min(1.0);
  EXPECT_TRUE(error.le(tolerance).all().item<bool>())
      << "max |diff| " << error.max().item<double>();
  EXPECT_GT(expected.abs().max().item<double>(), 0.5);  // the golden output is not trivial
}

}  // namespace
}  // namespace duet::language
