// The transformer's scheduler: batching, joining at the next step, cancellation and deadlines
// (measured with the step counter, never with sleeps), the bounded queue, and agreement with
// fusion::GenerateImageCodes.
#include <atomic>
#include <future>
#include <thread>

#include "gtest/gtest.h"
#include "services/common/wire.h"
#include "tests/services/test_cluster.h"

namespace duet::services::testing {
namespace {

const fusion::TransformerConfig& Config() { return TinyModel().config().transformer; }

torch::Tensor Prefix(const std::string& prompt) {
  model::EncodedTexts encoded = *TinyModel().text().Encode({prompt});
  return encoded.embeddings[0].narrow(0, 0, encoded.lengths[0].item<int64_t>()).contiguous();
}

struct Outcome {
  std::promise<StatusOr<torch::Tensor>> result;
  std::vector<int64_t> progress;       // done values seen
  std::vector<int64_t> steps_at;       // scheduler step counter when each progress arrived
};

ImageRequest MakeRequest(Scheduler& scheduler, Outcome* outcome, const std::string& prompt,
                         int count, uint64_t seed) {
  ImageRequest request;
  request.prefix = Prefix(prompt);
  request.count = count;
  request.sampling.seed = seed;
  request.progress = [&scheduler, outcome](int64_t done, int64_t) {
    outcome->progress.push_back(done);
    outcome->steps_at.push_back(scheduler.stats().steps);
  };
  request.done = [outcome](StatusOr<torch::Tensor> r) { outcome->result.set_value(std::move(r)); };
  return request;
}

torch::Tensor Reference(const std::string& prompt, int count, uint64_t seed,
                        fusion::SamplingParams sampling = {1.0f, 0, 1.0f, 1.0f, 0}) {
  const torch::Tensor prefix = Prefix(prompt);
  torch::Tensor text = torch::zeros({1, Config().text_prefix_len, Config().text_dim});
  text[0].narrow(0, 0, prefix.size(0)).copy_(prefix);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < count; ++i) seeds.push_back(seed + i);
  auto transformer = TinyModel().transformer();
  return *fusion::GenerateImageCodes(transformer, text.expand({count, -1, -1}).contiguous(),
                                     torch::full({count}, prefix.size(0), torch::kInt64), seeds,
                                     sampling);
}

TEST(SchedulerTest, MatchesFusionGenerateImageCodes) {
  Scheduler scheduler(TinyModel().transformer(), {});
  Outcome outcome;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(scheduler, &outcome, "a green apple", 3, 9)).ok());
  StatusOr<torch::Tensor> codes = outcome.result.get_future().get();
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_TRUE(torch::equal(codes->view({3, -1}), Reference("a green apple", 3, 9).view({3, -1})));
}

// Different sampling settings (one guided) no longer split the batch: every step is one image
// decoding unit, and each request's codes are those it gets alone.
TEST(SchedulerTest, MixedSamplingSettingsShareEveryStepAndMatchEachAlone) {
  Scheduler scheduler(TinyModel().transformer(), {});
  const fusion::SamplingParams settings[] = {
      {1.0f, 0, 1.0f, 1.0f, 0}, {0.7f, 5, 1.0f, 1.0f, 0}, {1.2f, 0, 0.9f, 2.5f, 0}};
  const char* prompts[] = {"a red bicycle", "a blue whale", "호박 모양 모자"};
  Outcome outcomes[3];
  for (int i = 0; i < 3; ++i) {
    ImageRequest request = MakeRequest(scheduler, &outcomes[i], prompts[i], 2, 40 + 10 * i);
    request.sampling = settings[i];
    request.sampling.seed = 40 + 10 * i;
    ASSERT_TRUE(scheduler.Submit(std::move(request)).ok());
  }
  for (int i = 0; i < 3; ++i) {
    StatusOr<torch::Tensor> codes = outcomes[i].result.get_future().get();
    ASSERT_TRUE(codes.ok()) << codes.status();
    EXPECT_TRUE(torch::equal(codes->view({2, -1}),
                             Reference(prompts[i], 2, 40 + 10 * i, settings[i]).view({2, -1})))
        << prompts[i];
  }
  scheduler.Shutdown();
  const SchedulerStats stats = scheduler.stats();
  EXPECT_EQ(stats.forwards, stats.steps);  // one unit per step, not one per setting
  EXPECT_LE(stats.steps, 3 * Config().image_tokens() - 2);
}

TEST(SchedulerTest, RequestArrivingMidwayJoinsAtTheNextStep) {
  Scheduler scheduler(TinyModel().transformer(), {});
  const int64_t N = Config().image_tokens();
  Outcome first, second;
  ImageRequest a = MakeRequest(scheduler, &first, "a red sports car", 2, 1);
  auto progress = a.progress;
  const int64_t join_after = 10;
  a.progress = [&, progress](int64_t done, int64_t total) {
    progress(done, total);
    if (done == join_after) {  // on the worker thread, between steps
      EXPECT_TRUE(scheduler.Submit(MakeRequest(scheduler, &second, "a snowy mountain", 1, 5)).ok());
    }
  };
  ASSERT_TRUE(scheduler.Submit(std::move(a)).ok());
  ASSERT_TRUE(first.result.get_future().get().ok());
  StatusOr<torch::Tensor> b = second.result.get_future().get();
  ASSERT_TRUE(b.ok());
  // The second request's first token was decoded in the step right after it arrived...
  ASSERT_EQ(second.progress.size(), static_cast<size_t>(N));
  EXPECT_EQ(second.steps_at.front(), first.steps_at[join_after - 1] + 1);
  // ...so both finish in join_after + N steps rather than 2N.
  scheduler.Shutdown();  // the last step is counted after its callbacks ran
  EXPECT_EQ(scheduler.stats().steps, join_after + N);
  EXPECT_TRUE(torch::equal(b->view({1, -1}), Reference("a snowy mountain", 1, 5).view({1, -1})));
}

TEST(SchedulerTest, CancelledRequestStopsWithinOneStepAndOthersCarryOn) {
  Scheduler scheduler(TinyModel().transformer(), {});
  const int64_t N = Config().image_tokens();
  std::promise<void> queued_promise;
  std::shared_future<void> both_queued = queued_promise.get_future().share();
  Outcome blocker, cancelled, kept;
  // A request that holds the worker until the two others are queued, so they decode in the same steps.
  ImageRequest hold = MakeRequest(scheduler, &blocker, "a cup of coffee", 1, 0);
  hold.progress = [&](int64_t done, int64_t) {
    if (done == 1) both_queued.wait();
  };
  ASSERT_TRUE(scheduler.Submit(std::move(hold)).ok());
  std::atomic<bool> cancel{false};
  const int64_t cancel_at = 5;
  ImageRequest c = MakeRequest(scheduler, &cancelled, "a red sports car", 4, 1);
  auto progress = c.progress;
  c.progress = [&, progress](int64_t done, int64_t total) {
    progress(done, total);
    if (done == cancel_at) cancel = true;
  };
  c.cancelled = [&] { return cancel.load(); };
  ASSERT_TRUE(scheduler.Submit(std::move(c)).ok());
  ASSERT_TRUE(scheduler.Submit(MakeRequest(scheduler, &kept, "a red sports car", 2, 7)).ok());
  queued_promise.set_value();

  StatusOr<torch::Tensor> dropped = cancelled.result.get_future().get();
  EXPECT_TRUE(absl::IsCancelled(dropped.status())) << dropped.status();
  EXPECT_EQ(cancelled.progress.back(), cancel_at);  // no step ran for it after the flag
  StatusOr<torch::Tensor> codes = kept.result.get_future().get();
  ASSERT_TRUE(codes.ok());
  EXPECT_EQ(kept.progress.size(), static_cast<size_t>(N));
  EXPECT_TRUE(torch::equal(codes->view({2, -1}), Reference("a red sports car", 2, 7).view({2, -1})));
  ASSERT_TRUE(blocker.result.get_future().get().ok());
  scheduler.Shutdown();
  const SchedulerStats stats = scheduler.stats();
  EXPECT_EQ(stats.cancelled, 1);
  EXPECT_EQ(stats.completed, 2);
  // Compute spent: blocker 1 x N rows, cancelled 4 x cancel_at, kept 2 x N.
  EXPECT_EQ(stats.rows, N + 4 * cancel_at + 2 * N);
}

// A one-draft request that holds the worker after its first token until Release().
struct WorkerHold {
  Outcome outcome;
  std::promise<void> started, release;
  void Submit(Scheduler& scheduler) {
    ImageRequest hold = MakeRequest(scheduler, &outcome, "a cup of coffee", 1, 0);
    std::shared_future<void> released = release.get_future().share();
    hold.progress = [this, released](int64_t done, int64_t) {
      if (done != 1) return;
      started.set_value();
      released.wait();
    };
    ASSERT_TRUE(scheduler.Submit(std::move(hold)).ok());
    started.get_future().wait();
  }
  void Release() {
    release.set_value();
    EXPECT_TRUE(outcome.result.get_future().get().ok());
  }
};

TEST(SchedulerTest, FullQueueIsResourceExhausted) {
  SchedulerOptions options;
  options.max_queue = 1;
  Scheduler scheduler(TinyModel().transformer(), options);
  WorkerHold hold;
  hold.Submit(scheduler);
  Outcome queued, rejected;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(scheduler, &queued, "a hat", 1, 0)).ok());
  const Status full = scheduler.Submit(MakeRequest(scheduler, &rejected, "a hat", 1, 0));
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_NE(full.message().find("retry after"), std::string::npos);
  hold.Release();
  EXPECT_TRUE(queued.result.get_future().get().ok());
}

TEST(SchedulerTest, CancelledQueuedRequestsDoNotHoldQueueSlots) {
  SchedulerOptions options;
  options.max_queue = 1;
  Scheduler scheduler(TinyModel().transformer(), options);
  WorkerHold hold;
  hold.Submit(scheduler);
  Outcome gone, next;
  std::atomic<bool> client_gone{false};
  ImageRequest waiting = MakeRequest(scheduler, &gone, "a hat", 1, 0);
  waiting.cancelled = [&] { return client_gone.load(); };
  ASSERT_TRUE(scheduler.Submit(std::move(waiting)).ok());  // fills the queue
  client_gone = true;
  const Status admitted = scheduler.Submit(MakeRequest(scheduler, &next, "a hat", 1, 1));
  EXPECT_TRUE(admitted.ok()) << admitted;  // the dead request gave up its slot
  hold.Release();
  EXPECT_TRUE(absl::IsCancelled(gone.result.get_future().get().status()));
  EXPECT_TRUE(gone.progress.empty());
  if (admitted.ok()) EXPECT_TRUE(next.result.get_future().get().ok());
  scheduler.Shutdown();
  EXPECT_EQ(scheduler.stats().cancelled, 1);
  EXPECT_EQ(scheduler.stats().active, 0);
}

// Budgets whose chunks hold `rows` rows of image prefill (guided rows count twice) or scoring.
ChunkBudget PrefillChunkOf(int64_t rows) { return {rows * (Config().text_prefix_len + 1)}; }
ChunkBudget ScoreChunkOf(int64_t rows) {
  return {rows * (Config().image_tokens() + Config().max_caption_len)};
}

TEST(SchedulerTest, LargePrefillRunsInChunksAndMatchesOneBatch) {
  SchedulerOptions options;
  options.chunk = PrefillChunkOf(2);
  Scheduler scheduler(TinyModel().transformer(), options);
  const int64_t N = Config().image_tokens();
  Outcome outcome;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(scheduler, &outcome, "a green apple", 5, 9)).ok());
  StatusOr<torch::Tensor> codes = outcome.result.get_future().get();
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_TRUE(torch::equal(codes->view({5, -1}), Reference("a green apple", 5, 9).view({5, -1})));
  EXPECT_EQ(outcome.steps_at.front(), 2);  // chunks of 2 + 2 + 1 rows, the last samples
  scheduler.Shutdown();
  EXPECT_EQ(scheduler.stats().steps, 2 + N);
  EXPECT_EQ(scheduler.stats().rows, 5 * N);  // prefill rows once, then one token per step
}

TEST(SchedulerTest, CancelDuringPrefillStopsWithinOneChunkAndASmallRequestKeepsItsPace) {
  SchedulerOptions options;
  options.chunk = PrefillChunkOf(4);
  Scheduler scheduler(TinyModel().transformer(), options);
  const int64_t N = Config().image_tokens();
  Outcome large, small;
  ImageRequest big = MakeRequest(scheduler, &large, "a robot vacuum", 8, 0);
  big.sampling.guidance_scale = 3.0f;  // 16 rows: 4 chunks of 2 + 2 guided rows
  big.cancelled = [&scheduler] { return scheduler.stats().steps >= 1; };  // after one chunk
  ASSERT_TRUE(scheduler.Submit(std::move(big)).ok());
  ASSERT_TRUE(scheduler.Submit(MakeRequest(scheduler, &small, "a snowy mountain", 1, 5)).ok());
  EXPECT_TRUE(absl::IsCancelled(large.result.get_future().get().status()));
  EXPECT_TRUE(large.progress.empty());  // it never reached its first token
  StatusOr<torch::Tensor> codes = small.result.get_future().get();
  ASSERT_TRUE(codes.ok());
  EXPECT_TRUE(torch::equal(codes->view({1, -1}), Reference("a snowy mountain", 1, 5).view({1, -1})));
  ASSERT_EQ(small.steps_at.size(), static_cast<size_t>(N));
  EXPECT_EQ(small.steps_at.back() - small.steps_at.front(), N - 1);  // one token every step
  scheduler.Shutdown();
  EXPECT_EQ(scheduler.stats().rows, 4 + N);  // one chunk of the large request, then the small one
}

TEST(SchedulerTest, ScoringRunsInChunksBesideDecoding) {
  SchedulerOptions options;
  options.chunk = ScoreChunkOf(2);
  Scheduler scheduler(TinyModel().transformer(), options);
  const int64_t N = Config().image_tokens(), rows = 6;
  ScoreRequest score;
  score.codes = torch::randint(Config().image_codebook, {rows, N},
                               torch::TensorOptions(torch::kInt64));
  for (int64_t i = 0; i < rows; ++i) score.texts.push_back({5 + i, 7, 9 + i});
  auto transformer = TinyModel().transformer();
  const std::vector<double> whole = *fusion::ScoreText(transformer, score.codes, score.texts);
  std::promise<StatusOr<std::vector<double>>> scored;
  std::vector<int64_t> scored_at;
  score.done = [&](StatusOr<std::vector<double>> r) {
    scored_at.push_back(scheduler.stats().steps);
    scored.set_value(std::move(r));
  };
  Outcome image;
  ImageRequest request = MakeRequest(scheduler, &image, "a cup of coffee", 1, 3);
  auto progress = request.progress;
  request.progress = [&, progress](int64_t done, int64_t total) {
    progress(done, total);
    if (done == 1) EXPECT_TRUE(scheduler.Submit(std::move(score)).ok());  // joins mid-decoding
  };
  ASSERT_TRUE(scheduler.Submit(std::move(request)).ok());
  StatusOr<std::vector<double>> scores = scored.get_future().get();
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) EXPECT_NEAR((*scores)[i], whole[i], 1e-3) << i;
  ASSERT_TRUE(image.result.get_future().get().ok());
  ASSERT_EQ(image.steps_at.size(), static_cast<size_t>(N));
  EXPECT_EQ(image.steps_at.back() - image.steps_at.front(), N - 1);  // never stalled
  EXPECT_EQ(scored_at.front(), image.steps_at[0] + 3);  // 3 chunks, in the 3 steps after
}

// Over gRPC: a client that cancels, and one whose deadline passes, stop costing steps.
class TransformerCancelTest : public ::testing::Test {
 protected:
  static v1::GenerateImageCodesRequest BigRequest() {
    v1::GenerateImageCodesRequest request;
    EXPECT_TRUE(TensorToProto(Prefix("a robot vacuum"), request.mutable_prefix()).ok());
    request.set_count(256);
    request.mutable_sampling()->set_guidance_scale(3.0f);  // 512 rows: a slow step
    return request;
  }
  // Waits (bounded) until the scheduler is idle; returns its stats.
  static SchedulerStats Idle(Scheduler& scheduler) {
    for (int i = 0; i < 3000 && scheduler.stats().active > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return scheduler.stats();
  }
};

TEST_F(TransformerCancelTest, ClientCancelStopsDecoding) {
  Cluster cluster;
  const int64_t N = Config().image_tokens();
  grpc::ClientContext context;
  auto reader = cluster.Transformer()->GenerateImageCodes(&context, BigRequest());
  v1::GenerateImageCodesResponse message;
  ASSERT_TRUE(reader->Read(&message));
  ASSERT_TRUE(message.has_progress());
  const int64_t steps_at_cancel = cluster.scheduler().stats().steps;
  context.TryCancel();
  while (reader->Read(&message)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  const SchedulerStats stats = Idle(cluster.scheduler());
  EXPECT_EQ(stats.active, 0);
  EXPECT_EQ(stats.cancelled, 1);
  EXPECT_LE(stats.steps, steps_at_cancel + 2);  // dropped at the next step boundary
  EXPECT_LT(stats.steps, N);
}

TEST_F(TransformerCancelTest, ClientCancelDuringPrefillFreesTheWorkerWithinOneChunk) {
  SchedulerOptions options;
  options.chunk = PrefillChunkOf(32);  // BigRequest: 256 drafts, 16 chunks of 16 + 16 rows
  Cluster cluster(options);
  Scheduler& scheduler = cluster.scheduler();
  const int64_t N = Config().image_tokens();
  // A one-draft request paces the worker: its step 1 waits for the big request to queue, and its
  // step 3 (the big request's first chunk prefilled in step 2; in step 3 those rows decoded and
  // the second chunk prefilled) waits for the client's cancel.
  std::promise<void> ready_promise, cancelled_promise;
  std::atomic<int64_t> rows_at_cancel{0};
  std::shared_future<void> cancelled = cancelled_promise.get_future().share();
  Outcome pacer;
  ImageRequest pace = MakeRequest(scheduler, &pacer, "a cup of coffee", 1, 0);
  pace.progress = [&](int64_t done, int64_t) {
    for (int i = 0; done == 1 && i < 20000 && scheduler.stats().queued == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (done == 3) {
      rows_at_cancel = scheduler.stats().rows;
      ready_promise.set_value();
      cancelled.wait();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // RST_STREAM reaches the server
    }
  };
  ASSERT_TRUE(scheduler.Submit(std::move(pace)).ok());
  grpc::ClientContext context;
  auto reader = cluster.Transformer()->GenerateImageCodes(&context, BigRequest());
  ready_promise.get_future().wait();
  context.TryCancel();
  cancelled_promise.set_value();
  v1::GenerateImageCodesResponse message;
  while (reader->Read(&message)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(pacer.result.get_future().get().ok());
  const SchedulerStats stats = Idle(scheduler);
  EXPECT_EQ(stats.active, 0);
  EXPECT_EQ(stats.cancelled, 1);
  // Before the cancel: the pacer's 3 rows, 32 rows of each of two chunks, and one decoding step
  // of the first chunk's 32 rows. After it, only the pacer's rows: not one more of the big one.
  EXPECT_EQ(rows_at_cancel, 3 + 32 + 32 + 32);
  EXPECT_EQ(stats.rows, rows_at_cancel + (N - 3));
}

// A deadline that passes while the worker is busy drops the request at the next step boundary:
// a one-draft pacer holds the worker after its step 2 until the big request's deadline has
// passed, and from then on only the pacer's rows are computed.
TEST_F(TransformerCancelTest, DeadlineStopsDecodingAndOthersFinish) {
  SchedulerOptions options;
  options.chunk = PrefillChunkOf(32);
  Cluster cluster(options);
  Scheduler& scheduler = cluster.scheduler();
  const int64_t N = Config().image_tokens();
  const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(1500);
  std::atomic<int64_t> rows_at_deadline{0};
  Outcome pacer;
  ImageRequest pace = MakeRequest(scheduler, &pacer, "a cup of coffee", 1, 0);
  pace.progress = [&](int64_t done, int64_t) {
    for (int i = 0; done == 1 && i < 20000 && scheduler.stats().queued == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (done == 2) {
      std::this_thread::sleep_until(deadline + std::chrono::milliseconds(300));
      rows_at_deadline = scheduler.stats().rows;
    }
  };
  ASSERT_TRUE(scheduler.Submit(std::move(pace)).ok());
  grpc::ClientContext context;
  context.set_deadline(deadline);
  auto reader = cluster.Transformer()->GenerateImageCodes(&context, BigRequest());
  std::vector<v1::GenerateImageCodesResponse> out;
  EXPECT_EQ(ReadAll(reader, &out).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(pacer.result.get_future().get().ok());
  const SchedulerStats stats = Idle(scheduler);
  EXPECT_EQ(stats.cancelled, 1);
  EXPECT_EQ(stats.completed, 1);
  // Before: the pacer's 2 rows and the big request's first chunk (32 rows, step 2).
  EXPECT_EQ(rows_at_deadline, 2 + 32);
  EXPECT_EQ(stats.rows, rows_at_deadline + (N - 2));
}

}  // namespace
}  // namespace duet::services::testing
