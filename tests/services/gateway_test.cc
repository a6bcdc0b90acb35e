// The public API (duet.v1.Duet) end to end over the three in-process backends: every RPC, bad
// input, message size limits, a backend going away and coming back, and 32 concurrent clients.
#include <cmath>
#include <limits>
#include <thread>

#include "gtest/gtest.h"
#include "tests/services/test_cluster.h"
#include "vision/image_io.h"
#include "vision/png_text.h"

namespace duet::services::testing {
namespace {

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static v1::GenerateImagesRequest Request(const std::string& prompt, int count, uint64_t seed) {
    v1::GenerateImagesRequest request;
    request.set_prompt(prompt);
    request.set_count(count);
    request.set_seed(seed);
    return request;
  }

  static grpc::Status Generate(const v1::GenerateImagesRequest& request,
                               std::vector<v1::GenerateImagesResponse>* out) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = cluster_->Gateway()->GenerateImages(&context, request);
    return ReadAll(reader, out);
  }

  static grpc::Status Caption(const std::string& image, v1::CaptionResponse* response) {
    v1::CaptionRequest request;
    request.set_image(image);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return cluster_->Gateway()->Caption(&context, request, response);
  }

  static std::vector<v1::Draft> Drafts(const std::vector<v1::GenerateImagesResponse>& out) {
    std::vector<v1::Draft> drafts;
    for (const auto& m : out) {
      if (m.has_draft()) drafts.push_back(m.draft());
    }
    return drafts;
  }

  static Cluster* cluster_;
};
Cluster* GatewayTest::cluster_ = nullptr;

TEST_F(GatewayTest, GenerateImagesStreamsProgressThenDrafts) {
  std::vector<v1::GenerateImagesResponse> out;
  ASSERT_TRUE(Generate(Request("a pumpkin-shaped hat", 4, 100), &out).ok());
  const int64_t total = 4 * TinyModel().config().transformer.image_tokens();
  int64_t last = 0;
  size_t first_draft = out.size();
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].has_draft()) {
      first_draft = std::min(first_draft, i);
      continue;
    }
    EXPECT_LT(i, first_draft) << "progress after a draft";
    EXPECT_GT(out[i].progress().done(), last);
    EXPECT_EQ(out[i].progress().total(), total);
    last = out[i].progress().done();
  }
  EXPECT_EQ(last, total);
  const std::vector<v1::Draft> drafts = Drafts(out);
  ASSERT_EQ(drafts.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(drafts[i].index(), i);
    EXPECT_EQ(drafts[i].seed(), 100u + i);
    auto image = vision::DecodeImage(drafts[i].png());
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(image->width, TinyModel().config().image_tokenizer.resolution);
    auto text = vision::ReadPngText(drafts[i].png());
    ASSERT_TRUE(text.ok());
    std::map<std::string, std::string> keys(text->begin(), text->end());
    EXPECT_EQ(keys["prompt"], "a pumpkin-shaped hat");
    EXPECT_EQ(keys["seed"], std::to_string(100 + i));
    EXPECT_EQ(keys["model"], "duet-services-test");
  }
}

// Unset sampling fields take the model's defaults (config.json); set ones win.
TEST_F(GatewayTest, UnsetSamplingTakesTheModelDefaults) {
  auto keys_of = [&](const v1::GenerateImagesRequest& request) {
    std::vector<v1::GenerateImagesResponse> out;
    EXPECT_TRUE(Generate(request, &out).ok());
    const std::vector<v1::Draft> drafts = Drafts(out);
    std::map<std::string, std::string> keys;
    if (drafts.empty()) return keys;
    auto text = vision::ReadPngText(drafts[0].png());
    if (text.ok()) keys.insert(text->begin(), text->end());
    return keys;
  };
  auto keys = keys_of(Request("hat", 1, 3));
  EXPECT_EQ(keys["guidance_scale"], "2.5");
  EXPECT_EQ(keys["top_k"], "12");
  EXPECT_EQ(keys["top_p"], "0.95");
  EXPECT_EQ(keys["temperature"], "0.9");
  v1::GenerateImagesRequest set = Request("hat", 1, 3);
  set.set_guidance_scale(1.0f);
  set.set_top_k(0);
  keys = keys_of(set);
  EXPECT_EQ(keys["guidance_scale"], "1");
  EXPECT_EQ(keys["top_k"], "0");
  EXPECT_EQ(keys["top_p"], "0.95");
}

TEST_F(GatewayTest, RerankOrdersDraftsByScore) {
  v1::GenerateImagesRequest request = Request("a snowy mountain", 6, 7);
  request.set_rerank(true);
  std::vector<v1::GenerateImagesResponse> out;
  ASSERT_TRUE(Generate(request, &out).ok());
  const std::vector<v1::Draft> drafts = Drafts(out);
  ASSERT_EQ(drafts.size(), 6u);
  std::set<int> indices;
  for (size_t i = 0; i < drafts.size(); ++i) {
    indices.insert(drafts[i].index());
    EXPECT_LT(drafts[i].score(), 0.0);
    if (i > 0) EXPECT_GE(drafts[i - 1].score(), drafts[i].score());
  }
  EXPECT_EQ(indices.size(), 6u);
}

TEST_F(GatewayTest, CaptionAndModelInfo) {
  v1::CaptionResponse caption;
  ASSERT_TRUE(Caption(TestPng(48, 5), &caption).ok());
  EXPECT_TRUE(std::isfinite(caption.score()));
  EXPECT_LT(caption.score(), 0.0);

  v1::ModelInfo info;
  grpc::ClientContext context;
  ASSERT_TRUE(cluster_->Gateway()->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.name(), "duet-services-test");
  EXPECT_EQ(info.image_grid(), TinyModel().config().transformer.image_grid);
  EXPECT_EQ(info.max_drafts(), 256);
  EXPECT_EQ(info.compute_dtype(), "float32");  // the transformer's, asked through GetStats
  EXPECT_FLOAT_EQ(info.default_sampling().guidance_scale(), 2.5f);
  EXPECT_EQ(info.default_sampling().top_k(), 12);
}

TEST_F(GatewayTest, CaptionStreamAnswersInOrderWithIds) {
  grpc::ClientContext context;
  auto stream = cluster_->Gateway()->CaptionStream(&context);
  const int kItems = 12;
  for (int i = 0; i < kItems; ++i) {
    v1::CaptionStreamRequest request;
    // Item 9's id is not UTF-8: that item gets an error, and every later item is still answered.
    request.set_id(i == 9 ? std::string("item-\xC3\x28") : "item-" + std::to_string(i));
    request.set_image(i == 4 ? std::string("not an image at all") : TestPng(32, i));
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  std::vector<v1::CaptionStreamResponse> out;
  v1::CaptionStreamResponse response;
  while (stream->Read(&response)) out.push_back(response);
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(out.size(), static_cast<size_t>(kItems));
  v1::CaptionResponse reference;
  ASSERT_TRUE(Caption(TestPng(32, 7), &reference).ok());
  for (int i = 0; i < kItems; ++i) {
    if (i == 9) {
      EXPECT_EQ(out[i].id(), "item-\xC3\x28");  // echoed as sent
      EXPECT_EQ(out[i].error_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      EXPECT_NE(out[i].error_message().find("id: "), std::string::npos) << out[i].error_message();
      continue;
    }
    EXPECT_EQ(out[i].id(), "item-" + std::to_string(i));
    if (i == 4) {
      EXPECT_EQ(out[i].error_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      EXPECT_NE(out[i].error_message().find("image"), std::string::npos);
    } else {
      EXPECT_EQ(out[i].error_code(), 0) << out[i].error_message();
    }
  }
  EXPECT_EQ(out[7].caption(), reference.caption());
}

TEST_F(GatewayTest, BadRequestsGetInvalidArgumentAndServerKeepsServing) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    std::function<void(v1::GenerateImagesRequest*)> edit;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto* r) { r->set_prompt(""); }, "prompt"},
      {[](auto* r) { r->set_prompt(std::string(5000, 'x')); }, "prompt"},
      {[](auto* r) { r->set_prompt("a cat and a dog and a car and a hat under a sun by a sea with a star"); },
       "prompt: texts[0]"},
      {[](auto* r) { r->set_prompt("bad \xc3\x28 utf8"); }, "prompt"},
      // Refused at the edge, not after every draft is decoded (the PNG metadata cannot hold it).
      {[](auto* r) { r->set_prompt(std::string("hat\0x", 5)); }, "prompt has a NUL byte at offset 3"},
      {[](auto* r) { r->set_count(0); }, "count"},
      {[](auto* r) { r->set_count(10000); }, "count"},
      {[&](auto* r) { r->set_temperature(nan); }, "temperature"},
      {[](auto* r) { r->set_temperature(-0.5f); }, "temperature"},
      {[](auto* r) { r->set_top_p(0.0f); }, "top_p"},
      {[](auto* r) { r->set_top_p(1.01f); }, "top_p"},
  };
  for (const Case& c : cases) {
    v1::GenerateImagesRequest request = Request("a green apple", 1, 1);
    c.edit(&request);
    std::vector<v1::GenerateImagesResponse> out;
    const grpc::Status status = Generate(request, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_NE(status.error_message().find(c.field), std::string::npos) << status.error_message();
  }
  const std::string good = TestPng(32, 2);
  std::string random(5000, '\0');
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<char>(i * 131 % 256);
  for (const std::string& image :
       {good.substr(0, good.size() - 20), std::string("BM not a png"), random, std::string()}) {
    v1::CaptionResponse caption;
    EXPECT_EQ(Caption(image, &caption).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  v1::CaptionResponse caption;
  EXPECT_TRUE(Caption(good, &caption).ok());
  std::vector<v1::GenerateImagesResponse> out;
  EXPECT_TRUE(Generate(Request("a green apple", 1, 1), &out).ok());
}

// An image over the limit is refused by the gateway itself: with no backend listening, the answer
// is the size error and not UNAVAILABLE, so nothing was forwarded.
TEST(OrchestratorTest, OversizedCaptionImageIsRefusedBeforeForwarding) {
  const BackendAddresses nowhere{"127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1"};
  Orchestrator orchestrator(TinyModel().config(), nowhere, 4 << 20, /*max_image_bytes=*/1000);
  const auto status = orchestrator.Caption(nullptr, std::string(1001, 'x')).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("image is 1001 bytes, the limit is 1000"), std::string::npos)
      << status;
}

TEST_F(GatewayTest, OversizedMessageIsResourceExhausted) {
  v1::CaptionResponse caption;
  const grpc::Status status = Caption(std::string(5 << 20, 'x'), &caption);  // limit is 4 MiB
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Caption(TestPng(32, 1), &caption).ok());
}

TEST_F(GatewayTest, BackendDownIsUnavailableAndRecovers) {
  cluster_->StopTextEncoder();
  std::vector<v1::GenerateImagesResponse> out;
  const grpc::Status down = Generate(Request("a white rabbit", 1, 3), &out);
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(down.error_message().find("text-encoder"), std::string::npos) << down.error_message();
  cluster_->RestartTextEncoder();
  grpc::Status up;
  for (int attempt = 0; attempt < 100; ++attempt) {
    out.clear();
    up = Generate(Request("a white rabbit", 1, 3), &out);
    if (up.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(up.ok()) << up.error_message();
  EXPECT_EQ(Drafts(out).size(), 1u);
}

TEST_F(GatewayTest, ThirtyTwoConcurrentClientsGetCorrectAnswers) {
  // References, one request at a time.
  const std::vector<std::string> prompts = {"a red sports car", "호박 모양 모자", "a cup of coffee"};
  std::vector<std::string> reference_png;
  for (size_t p = 0; p < prompts.size(); ++p) {
    std::vector<v1::GenerateImagesResponse> out;
    ASSERT_TRUE(Generate(Request(prompts[p], 1, 500 + p), &out).ok());
    reference_png.push_back(Drafts(out).at(0).png());
  }
  std::vector<std::string> reference_caption;
  for (int i = 0; i < 3; ++i) {
    v1::CaptionResponse caption;
    ASSERT_TRUE(Caption(TestPng(32, 20 + i), &caption).ok());
    reference_caption.push_back(caption.caption());
  }
  std::atomic<int> correct{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 32; ++c) {
    clients.emplace_back([&, c] {
      if (c % 2 == 0) {
        const size_t p = (c / 2) % prompts.size();
        std::vector<v1::GenerateImagesResponse> out;
        if (!Generate(Request(prompts[p], 1, 500 + p), &out).ok()) return;
        if (Drafts(out).size() == 1 && Drafts(out)[0].png() == reference_png[p]) ++correct;
      } else {
        const int i = (c / 2) % 3;
        v1::CaptionResponse caption;
        if (Caption(TestPng(32, 20 + i), &caption).ok() &&
            caption.caption() == reference_caption[i]) {
          ++correct;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(correct.load(), 32);
}

}  // namespace
}  // namespace duet::services::testing
