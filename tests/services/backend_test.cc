// Every RPC of the three backends (TextEncoder, ImageCodec, MultimodalTransformer) against real
// in-process servers on loopback, including each bad input and a good request after it.
#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "services/common/wire.h"
#include "tests/services/test_cluster.h"
#include "vision/png_text.h"

namespace duet::services::testing {
namespace {

class BackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  v1::EncodeTextResponse EncodeOk(const std::vector<std::string>& texts) {
    v1::EncodeTextRequest request;
    for (const auto& t : texts) request.add_texts(t);
    v1::EncodeTextResponse response;
    grpc::ClientContext context;
    const grpc::Status status = cluster_->TextEncoder()->Encode(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Encode(const std::vector<std::string>& texts) {
    v1::EncodeTextRequest request;
    for (const auto& t : texts) request.add_texts(t);
    v1::EncodeTextResponse response;
    grpc::ClientContext context;
    return cluster_->TextEncoder()->Encode(&context, request, &response);
  }

  // The prefix of one prompt as GenerateImageCodes wants it: [L, text_dim].
  v1::Tensor Prefix(const std::string& prompt) {
    const v1::EncodeTextResponse encoded = EncodeOk({prompt});
    const int64_t D = TinyModel().config().text_encoder.d_model;
    torch::Tensor emb = *TensorFromProto(encoded.embeddings(),
                                         {"e", v1::DTYPE_FLOAT32, {1, -1, D}, 1, 64});
    torch::Tensor len = *TensorFromProto(encoded.lengths(), {"l", v1::DTYPE_INT64, {1}});
    v1::Tensor prefix;
    EXPECT_TRUE(TensorToProto(emb[0].narrow(0, 0, len[0].item<int64_t>()), &prefix).ok());
    return prefix;
  }

  grpc::Status Generate(const v1::GenerateImageCodesRequest& request,
                        std::vector<v1::GenerateImageCodesResponse>* out) {
    grpc::ClientContext context;
    auto reader = cluster_->Transformer()->GenerateImageCodes(&context, request);
    return ReadAll(reader, out);
  }

  static Cluster* cluster_;
};
Cluster* BackendTest::cluster_ = nullptr;

TEST_F(BackendTest, TextEncoderEncodesAndDecodes) {
  const v1::EncodeTextResponse r = EncodeOk({"a red sports car", "빨간 스포츠카"});
  ASSERT_EQ(r.ids().shape_size(), 2);
  EXPECT_EQ(r.ids().shape(0), 2);
  EXPECT_EQ(r.embeddings().dtype(), v1::DTYPE_FLOAT32);
  EXPECT_EQ(r.embeddings().shape(2), TinyModel().config().text_encoder.d_model);
  torch::Tensor ids = *TensorFromProto(r.ids(), {"ids", v1::DTYPE_INT64, {2, -1}, 1, 64});
  torch::Tensor len = *TensorFromProto(r.lengths(), {"len", v1::DTYPE_INT64, {2}});
  v1::DecodeTextRequest decode;
  for (int b = 0; b < 2; ++b) {
    auto* seq = decode.add_sequences();
    for (int64_t t = 0; t < len[b].item<int64_t>(); ++t) seq->add_ids(ids[b][t].item<int64_t>());
  }
  v1::DecodeTextResponse text;
  grpc::ClientContext context;
  ASSERT_TRUE(cluster_->TextEncoder()->Decode(&context, decode, &text).ok());
  ASSERT_EQ(text.texts_size(), 2);
  EXPECT_EQ(text.texts(0), "a red sports car");
  EXPECT_EQ(text.texts(1), "빨간 스포츠카");
}

TEST_F(BackendTest, TextEncoderRejectsBadTextsAndKeepsServing) {
  const std::string long_prompt(3000, 'a');
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "texts count"},
      {{""}, "texts[0]"},
      {{"ok", "\xff\xfe"}, "texts[1]"},
      {{long_prompt}, "texts[0]"},
      {{"a cat and a dog and a car and a hat under a sun by a sea with a star, a tree, a boat"}, "texts[0]"},
  };
  for (const auto& [texts, field] : cases) {
    const grpc::Status status = Encode(texts);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(status.error_message().find(field), std::string::npos) << status.error_message();
    EXPECT_TRUE(Encode({"a cup of coffee"}).ok());
  }
  v1::DecodeTextRequest decode;
  decode.add_sequences()->add_ids(1 << 30);
  v1::DecodeTextResponse text;
  grpc::ClientContext context;
  EXPECT_EQ(cluster_->TextEncoder()->Decode(&context, decode, &text).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BackendTest, ImageCodecRoundTripsWithMetadata) {
  v1::EncodeImagesRequest encode;
  encode.add_images(TestPng(32, 1));
  encode.add_images(TestPng(80, 2));  // resized to the model resolution
  v1::EncodeImagesResponse codes;
  grpc::ClientContext c1;
  ASSERT_TRUE(cluster_->ImageCodec()->Encode(&c1, encode, &codes).ok());
  const int64_t G = TinyModel().config().transformer.image_grid;
  torch::Tensor grid = *TensorFromProto(codes.codes(), {"codes", v1::DTYPE_INT64, {2, G, G}});
  EXPECT_GE(grid.min().item<int64_t>(), 0);
  EXPECT_LT(grid.max().item<int64_t>(), TinyModel().config().transformer.image_codebook);

  v1::DecodeCodesRequest decode;
  *decode.mutable_codes() = codes.codes();
  for (int i = 0; i < 2; ++i) {
    auto* entry = decode.add_metadata()->add_text();
    entry->set_key("prompt");
    entry->set_value("draft " + std::to_string(i));
  }
  v1::DecodeCodesResponse pngs;
  grpc::ClientContext c2;
  ASSERT_TRUE(cluster_->ImageCodec()->Decode(&c2, decode, &pngs).ok());
  ASSERT_EQ(pngs.pngs_size(), 2);
  auto text = vision::ReadPngText(pngs.pngs(1));
  ASSERT_TRUE(text.ok()) << text.status();
  ASSERT_FALSE(text->empty());
  EXPECT_EQ(text->front().second, "draft 1");
}

// A PNG signature and IHDR (valid CRC) claiming width x height, with no pixel data after it.
std::string HugeHeaderPng(uint32_t width, uint32_t height) {
  std::string ihdr = "IHDR";
  for (uint32_t v : {width, height}) {
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<char>((v >> s) & 0xff));
  }
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  uint32_t crc = 0xffffffffu;  // CRC-32 over type and data
  for (unsigned char ch : ihdr) {
    crc ^= ch;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xffffffffu;
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\x00\x00\x00\x0d", 4) + ihdr;
  for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<char>((crc >> s) & 0xff));
  return png;
}

TEST_F(BackendTest, ImageCodecRejectsBadImagesAndKeepsServing) {
  const std::string good = TestPng(32, 3);
  std::string random(2000, '\0');
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<char>((i * 7919 + 13) % 251);
  const std::vector<std::string> bad = {good.substr(0, good.size() / 2), "GIF89a....",
                                        random, HugeHeaderPng(100000, 100000), ""};
  for (const std::string& image : bad) {
    v1::EncodeImagesRequest encode;
    encode.add_images(image);
    v1::EncodeImagesResponse codes;
    grpc::ClientContext context;
    const grpc::Status status = cluster_->ImageCodec()->Encode(&context, encode, &codes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("image 0"), std::string::npos)
        << status.error_message();
    v1::EncodeImagesRequest ok_request;
    ok_request.add_images(good);
    grpc::ClientContext ok_context;
    EXPECT_TRUE(cluster_->ImageCodec()->Encode(&ok_context, ok_request, &codes).ok());
  }
}

TEST_F(BackendTest, ImageCodecRejectsBadCodes) {
  const int64_t G = TinyModel().config().transformer.image_grid;
  const int64_t K = TinyModel().config().transformer.image_codebook;
  std::vector<torch::Tensor> bad = {torch::full({1, G, G}, K), torch::full({1, G, G}, -1),
                                    torch::zeros({1, G, G + 1}, torch::kInt64),
                                    torch::zeros({1, G, G}, torch::kFloat32)};
  for (const torch::Tensor& codes : bad) {
    v1::DecodeCodesRequest decode;
    ASSERT_TRUE(TensorToProto(codes.to(codes.scalar_type() == torch::kFloat32
                                           ? torch::kFloat32 : torch::kInt64),
                              decode.mutable_codes()).ok());
    v1::DecodeCodesResponse pngs;
    grpc::ClientContext context;
    const grpc::Status status = cluster_->ImageCodec()->Decode(&context, decode, &pngs);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("codes"), std::string::npos);
  }
  v1::DecodeCodesRequest truncated;
  ASSERT_TRUE(TensorToProto(torch::zeros({1, G, G}, torch::kInt64), truncated.mutable_codes()).ok());
  truncated.mutable_codes()->mutable_data()->resize(7);
  v1::DecodeCodesResponse pngs;
  grpc::ClientContext context;
  EXPECT_EQ(cluster_->ImageCodec()->Decode(&context, truncated, &pngs).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BackendTest, TransformerStreamsProgressThenCodesReproducibly) {
  v1::GenerateImageCodesRequest request;
  *request.mutable_prefix() = Prefix("a red sports car");
  request.set_count(3);
  request.mutable_sampling()->set_seed(40);
  std::vector<v1::GenerateImageCodesResponse> out;
  ASSERT_TRUE(Generate(request, &out).ok());
  ASSERT_GE(out.size(), 2u);
  int64_t last = 0;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    ASSERT_TRUE(out[i].has_progress());
    EXPECT_GT(out[i].progress().done(), last);
    last = out[i].progress().done();
    EXPECT_EQ(out[i].progress().total(), TinyModel().config().transformer.image_tokens());
  }
  EXPECT_EQ(last, TinyModel().config().transformer.image_tokens());
  ASSERT_TRUE(out.back().has_codes());
  const int64_t G = TinyModel().config().transformer.image_grid;
  torch::Tensor all = *TensorFromProto(out.back().codes(), {"c", v1::DTYPE_INT64, {3, G, G}});
  // Draft 2 alone (seed 42) is the same grid, byte for byte.
  request.set_count(1);
  request.mutable_sampling()->set_seed(42);
  std::vector<v1::GenerateImageCodesResponse> single;
  ASSERT_TRUE(Generate(request, &single).ok());
  torch::Tensor one = *TensorFromProto(single.back().codes(), {"c", v1::DTYPE_INT64, {1, G, G}});
  EXPECT_TRUE(torch::equal(all[2], one[0]));
}

TEST_F(BackendTest, TransformerCaptionsAndScores) {
  const int64_t G = TinyModel().config().transformer.image_grid;
  v1::GenerateTextRequest request;
  ASSERT_TRUE(TensorToProto(torch::randint(0, 16, {2, G, G}, torch::kInt64),
                            request.mutable_codes()).ok());
  request.set_max_tokens(5);
  grpc::ClientContext context;
  auto reader = cluster_->Transformer()->GenerateText(&context, request);
  std::vector<v1::GenerateTextResponse> out;
  ASSERT_TRUE(ReadAll(reader, &out).ok());
  ASSERT_TRUE(out.back().has_captions());
  ASSERT_EQ(out.back().captions().texts_size(), 2);
  EXPECT_LE(out.back().captions().texts(0).ids_size(), 5);
  for (size_t i = 0; i + 1 < out.size(); ++i) EXPECT_TRUE(out[i].has_progress());

  v1::ScoreTextRequest score;
  *score.mutable_codes() = request.codes();
  *score.add_texts() = out.back().captions().texts(0);
  score.add_texts()->add_ids(10);
  v1::ScoreTextResponse scores;
  grpc::ClientContext c2;
  ASSERT_TRUE(cluster_->Transformer()->ScoreText(&c2, score, &scores).ok());
  ASSERT_EQ(scores.log_probs_size(), 2);
  EXPECT_LT(scores.log_probs(1), 0.0);
  EXPECT_TRUE(std::isfinite(scores.log_probs(0)));

  v1::TransformerStats stats;
  grpc::ClientContext c3;
  ASSERT_TRUE(cluster_->Transformer()->GetStats(&c3, v1::GetStatsRequest(), &stats).ok());
  EXPECT_GT(stats.steps(), 0);
}

TEST_F(BackendTest, TransformerRejectsBadRequestsAndKeepsServing) {
  const v1::Tensor prefix = Prefix("a cup of coffee");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    std::function<void(v1::GenerateImageCodesRequest*)> edit;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto* r) { r->set_count(0); }, "count"},
      {[](auto* r) { r->set_count(10000); }, "count"},
      {[&](auto* r) { r->mutable_sampling()->set_temperature(nan); }, "temperature"},
      {[](auto* r) { r->mutable_sampling()->set_temperature(-1); }, "temperature"},
      {[](auto* r) { r->mutable_sampling()->set_top_p(0); }, "top_p"},
      {[](auto* r) { r->mutable_sampling()->set_top_p(1.5f); }, "top_p"},
      {[](auto* r) { r->mutable_prefix()->add_shape(1); }, "prefix"},
      {[](auto* r) { r->mutable_prefix()->mutable_data()->resize(3); }, "prefix"},
      {[&](auto* r) { std::memcpy(r->mutable_prefix()->mutable_data()->data(), &nan, 4); },
       "prefix"},
  };
  for (const Case& c : cases) {
    v1::GenerateImageCodesRequest request;
    *request.mutable_prefix() = prefix;
    request.set_count(1);
    c.edit(&request);
    std::vector<v1::GenerateImageCodesResponse> out;
    const grpc::Status status = Generate(request, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_NE(status.error_message().find(c.field), std::string::npos) << status.error_message();
  }
  v1::GenerateImageCodesRequest good;
  *good.mutable_prefix() = prefix;
  good.set_count(1);
  std::vector<v1::GenerateImageCodesResponse> out;
  EXPECT_TRUE(Generate(good, &out).ok());
}

}  // namespace
}  // namespace duet::services::testing
