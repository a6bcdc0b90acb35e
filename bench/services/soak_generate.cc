// The GenerateImages scenarios of bench/services/soak_client.h: good calls (English and Korean
// prompts, default and explicit sampling, rerank) with their content checked, cancels, short
// deadlines and bad inputs.
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <thread>

#include "bench/services/soak_client.h"
#include "bench/services/soak_png.h"

namespace duet::bench {
namespace {

using Code = grpc::StatusCode;

// Names from the emoji model's training labels, so most give a recognisable draft.
const char* const kEnglishPrompts[] = {
    "a red apple",   "pumpkin",       "robot face",    "magician hat",   "cat face",
    "grinning face", "red heart",     "star",          "fire",           "sun with face",
    "umbrella",      "rocket",        "pizza",         "dog face",       "ghost",
    "snowman",       "a green apple", "crescent moon", "jack-o-lantern", "rainbow"};
const char* const kKoreanPrompts[] = {"할로윈",      "마술사 모자", "로봇 얼굴", "호박",
                                      "고양이 얼굴", "빨간 사과",   "웃는 얼굴", "빨간 하트",
                                      "별",          "불",          "우산",      "로켓",
                                      "피자",        "개 얼굴",     "유령",      "눈사람"};
constexpr int kMaxGoodCount = 4;        // drafts per good call: small, generation is slow on CPU
constexpr int kSeedRange = 256;         // small, so that (prompt, seed) pairs repeat
constexpr int kMaxCancelDelayMs = 400;  // a cancel lands before, during or after decoding
constexpr int kMaxShortDeadlineMs = 200;

struct GenerateRun {
  grpc::Status status;
  std::vector<v1::Draft> drafts;
  std::string stream_error;  // progress out of order, an empty message, ...
  double seconds = 0;
};

// Reads the whole stream; checks progress: increasing, before any draft, done <= total ==
// `expected_total`. `before_read` runs once the call has started (a cancel, say).
GenerateRun ReadGenerate(v1::Duet::Stub& stub, grpc::ClientContext* context,
                         const v1::GenerateImagesRequest& request, int64_t expected_total,
                         const std::function<void()>& before_read = nullptr) {
  GenerateRun run;
  const auto start = std::chrono::steady_clock::now();
  auto reader = stub.GenerateImages(context, request);
  if (before_read) before_read();
  v1::GenerateImagesResponse response;
  int64_t last_done = -1;
  const auto fail = [&run](std::string what) {
    if (run.stream_error.empty()) run.stream_error = std::move(what);
  };
  while (reader->Read(&response)) {
    if (response.has_progress()) {
      const v1::Progress& p = response.progress();
      if (!run.drafts.empty()) fail("progress after a draft");
      if (p.done() < last_done) {
        fail("progress went from " + std::to_string(last_done) + " to " + std::to_string(p.done()));
      }
      if (p.total() != expected_total || p.done() > p.total() || p.done() < 0) {
        fail("progress " + std::to_string(p.done()) + "/" + std::to_string(p.total()) +
             ", expected total " + std::to_string(expected_total));
      }
      last_done = p.done();
    } else if (response.has_draft()) {
      run.drafts.push_back(std::move(*response.mutable_draft()));
    } else {
      fail("a response with neither progress nor draft");
    }
  }
  run.status = reader->Finish();
  run.seconds = SecondsSince(start);
  return run;
}

struct BadCase {
  const char* what;  // recorded in the unexpected outcome's detail
  std::function<void(v1::GenerateImagesRequest*)> edit;
  const char* field;  // the error message must contain it
};

std::vector<BadCase> BadCases(const ClientOptions& o) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::string many_tokens;
  for (int i = 0; i < 60; ++i) many_tokens += "cat ";
  return {
      {"count 0", [](auto* r) { r->set_count(0); }, "count"},
      {"count -3", [](auto* r) { r->set_count(-3); }, "count"},
      {"count 10000", [](auto* r) { r->set_count(10000); }, "count"},
      {"count max_drafts+1", [o](auto* r) { r->set_count(o.max_drafts + 1); }, "count"},
      {"empty prompt", [](auto* r) { r->set_prompt(""); }, "prompt"},
      {"NUL in prompt", [](auto* r) { r->set_prompt(std::string("hat\0x", 5)); }, "NUL"},
      {"5000-byte prompt", [](auto* r) { r->set_prompt(std::string(5000, 'x')); }, "prompt"},
      {"60-token prompt", [many_tokens](auto* r) { r->set_prompt(many_tokens); }, "prompt"},
      {"bad UTF-8", [](auto* r) { r->set_prompt("bad \xc3\x28 utf8"); }, "prompt"},
      {"UTF-8 surrogate", [](auto* r) { r->set_prompt("a \xed\xa0\x80 b"); }, "prompt"},
      {"temperature NaN", [nan](auto* r) { r->set_temperature(nan); }, "temperature"},
      {"temperature -0.5", [](auto* r) { r->set_temperature(-0.5f); }, "temperature"},
      {"temperature 11", [](auto* r) { r->set_temperature(11.f); }, "temperature"},
      {"temperature inf", [inf](auto* r) { r->set_temperature(inf); }, "temperature"},
      {"top_p 0", [](auto* r) { r->set_top_p(0.f); }, "top_p"},
      {"top_p 1.01", [](auto* r) { r->set_top_p(1.01f); }, "top_p"},
      {"top_p 5", [](auto* r) { r->set_top_p(5.f); }, "top_p"},
      {"top_p NaN", [nan](auto* r) { r->set_top_p(nan); }, "top_p"},
      {"top_k -1", [](auto* r) { r->set_top_k(-1); }, "top_k"},
      {"top_k codebook+1", [o](auto* r) { r->set_top_k(o.codebook_size + 1); }, "top_k"},
      {"guidance -1", [](auto* r) { r->set_guidance_scale(-1.f); }, "guidance_scale"},
      {"guidance 51", [](auto* r) { r->set_guidance_scale(51.f); }, "guidance_scale"},
      {"guidance NaN", [nan](auto* r) { r->set_guidance_scale(nan); }, "guidance_scale"},
  };
}

}  // namespace

v1::GenerateImagesRequest SoakClient::GoodGenerateRequest(bool rerank) {
  v1::GenerateImagesRequest request;
  const bool korean = Uniform(0, 2) == 0;
  request.set_prompt(korean ? kKoreanPrompts[Uniform(0, std::size(kKoreanPrompts) - 1)]
                            : kEnglishPrompts[Uniform(0, std::size(kEnglishPrompts) - 1)]);
  request.set_count(Uniform(1, kMaxGoodCount));
  request.set_seed(Uniform(0, kSeedRange - 1));
  request.set_rerank(rerank);
  if (Uniform(0, 1) == 0) {  // half take the model's defaults
    const float temperatures[] = {0.f, 0.3f, 0.7f, 1.f};
    const int top_ks[] = {0, 10, 100};
    const float top_ps[] = {1.f, 0.9f};
    const float guidances[] = {1.f, 1.3f, 3.f};
    request.set_temperature(temperatures[Uniform(0, 3)]);
    request.set_top_k(top_ks[Uniform(0, 2)]);
    request.set_top_p(top_ps[Uniform(0, 1)]);
    request.set_guidance_scale(guidances[Uniform(0, 2)]);
  }
  return request;
}

std::string SoakClient::SamplingKey(const v1::GenerateImagesRequest& r) const {
  std::string key = "prompt \"" + r.prompt() + "\", sampling";
  if (r.has_temperature()) key += " t=" + std::to_string(r.temperature());
  if (r.has_top_k()) key += " k=" + std::to_string(r.top_k());
  if (r.has_top_p()) key += " p=" + std::to_string(r.top_p());
  if (r.has_guidance_scale()) key += " g=" + std::to_string(r.guidance_scale());
  return key;
}

// Every draft once, seed = request seed + index, a PNG; index order without rerank, best score
// first with it. Records each draft's pixels for the consistency check.
std::string SoakClient::CheckDrafts(const v1::GenerateImagesRequest& request,
                                    const std::vector<v1::Draft>& drafts) {
  if (drafts.size() != static_cast<size_t>(request.count())) {
    return std::to_string(drafts.size()) + " drafts for count " + std::to_string(request.count());
  }
  std::set<int> indices;
  for (size_t i = 0; i < drafts.size(); ++i) {
    const v1::Draft& d = drafts[i];
    const std::string where = "draft " + std::to_string(d.index()) + ": ";
    if (d.index() < 0 || d.index() >= request.count() || !indices.insert(d.index()).second) {
      return where + "index missing, repeated or out of range";
    }
    if (d.seed() != request.seed() + d.index()) return where + "seed " + std::to_string(d.seed());
    const uint64_t pixels = PixelHash(d.png());
    if (pixels == 0) return where + "not a PNG";
    if (!request.rerank() && (d.index() != static_cast<int>(i) || d.score() != 0)) {
      return where + "out of index order or scored without rerank";
    }
    if (request.rerank() &&
        (!std::isfinite(d.score()) || (i > 0 && d.score() > drafts[i - 1].score()))) {
      return where + "rerank score " + std::to_string(d.score()) + " not finite or not sorted";
    }
    std::string mismatch =
        shared_->CheckDraft(SamplingKey(request) + ", seed " + std::to_string(d.seed()), pixels);
    if (!mismatch.empty()) return where + mismatch;
  }
  if (Uniform(0, 3) == 0) shared_->AddDraft(drafts[Uniform(0, drafts.size() - 1)].png());
  return "";
}

Verdict SoakClient::Generate(const char* scenario, const v1::GenerateImagesRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  GenerateRun run =
      ReadGenerate(*duet_, &context, request, int64_t{request.count()} * options_.image_tokens);
  std::string error = run.stream_error;
  if (run.status.ok() && error.empty()) error = CheckDrafts(request, run.drafts);
  return Record(scenario, "GenerateImages", run.status, run.seconds, {Code::OK}, error);
}

Verdict SoakClient::GenerateCancel() {
  const v1::GenerateImagesRequest request = GoodGenerateRequest(Uniform(0, 3) == 0);
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  const auto delay = std::chrono::milliseconds(Uniform(0, kMaxCancelDelayMs));
  GenerateRun run = ReadGenerate(*duet_, &context, request,
                                 int64_t{request.count()} * options_.image_tokens, [&] {
                                   std::this_thread::sleep_for(delay);
                                   context.TryCancel();
                                 });
  // A call that finished before the cancel reached it is OK and must be complete.
  std::string error = run.stream_error;
  if (run.status.ok() && error.empty()) error = CheckDrafts(request, run.drafts);
  return Record("generate.cancel", "GenerateImages", run.status, run.seconds,
                {Code::CANCELLED, Code::OK}, error);
}

Verdict SoakClient::GenerateDeadline() {
  const v1::GenerateImagesRequest request = GoodGenerateRequest(false);
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::milliseconds(Uniform(1, kMaxShortDeadlineMs)));
  GenerateRun run =
      ReadGenerate(*duet_, &context, request, int64_t{request.count()} * options_.image_tokens);
  std::string error = run.stream_error;
  if (run.status.ok() && error.empty()) error = CheckDrafts(request, run.drafts);
  return Record("generate.deadline", "GenerateImages", run.status, run.seconds,
                {Code::DEADLINE_EXCEEDED, Code::OK}, error);
}

Verdict SoakClient::GenerateBad() {
  static const std::vector<BadCase>* const kCases = new std::vector<BadCase>(BadCases(options_));
  const BadCase& bad = (*kCases)[Uniform(0, kCases->size() - 1)];
  v1::GenerateImagesRequest request = GoodGenerateRequest(false);
  bad.edit(&request);
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  GenerateRun run = ReadGenerate(*duet_, &context, request, -1);
  std::string error;
  if (!run.drafts.empty()) error = std::string(bad.what) + ": drafts sent for a bad request";
  if (run.status.error_code() == Code::INVALID_ARGUMENT &&
      run.status.error_message().find(bad.field) == std::string::npos) {
    error = std::string(bad.what) + ": message does not name " + bad.field + ": " +
            run.status.error_message();
  }
  if (run.status.error_code() != Code::INVALID_ARGUMENT && error.empty()) {
    error = std::string(bad.what) + ": " + run.status.error_message();
  }
  return Record("generate.bad", "GenerateImages", run.status, run.seconds, {Code::INVALID_ARGUMENT},
                error);
}

}  // namespace duet::bench
