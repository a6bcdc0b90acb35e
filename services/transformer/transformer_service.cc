// Implementation of services/transformer/transformer_service.h.
#include "services/transformer/transformer_service.h"

#include <chrono>

#include "common/compute_dtype.h"
#include "services/common/status_convert.h"
#include "services/common/stream_writer.h"
#include "services/common/unary.h"
#include "services/common/wire.h"

namespace duet::services {
namespace {

// Polled by the scheduler between steps: the client left, or the deadline passed.
template <typename Writer>
std::function<bool()> CancelCheck(Writer* writer, grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  return [writer, deadline] {
    return writer->cancelled() || std::chrono::system_clock::now() > deadline;
  };
}

StatusOr<torch::Tensor> ParseCodes(const v1::Tensor& proto, const fusion::TransformerConfig& c,
                                   int64_t max_batch) {
  const TensorSpec spec{"codes", v1::DTYPE_INT64, {-1, c.image_grid, c.image_grid}, 1, max_batch};
  DUET_ASSIGN_OR_RETURN(torch::Tensor codes, TensorFromProto(proto, spec));
  DUET_RETURN_IF_ERROR(CheckIdRange(codes, "codes", 0, c.image_codebook));
  return codes.view({codes.size(0), -1});  // [B, N]
}

}  // namespace

StatusOr<ImageRequest> ParseImageRequest(const v1::GenerateImageCodesRequest& proto,
                                         const fusion::TransformerConfig& c,
                                         const fusion::SamplingParams& defaults) {
  ImageRequest request;
  const TensorSpec spec{"prefix", v1::DTYPE_FLOAT32, {-1, c.text_dim}, 1, c.text_prefix_len};
  DUET_ASSIGN_OR_RETURN(request.prefix, TensorFromProto(proto.prefix(), spec));
  DUET_RETURN_IF_ERROR(CheckFinite(request.prefix, "prefix"));
  DUET_RETURN_IF_ERROR(CheckRange<int>("count", proto.count(), 1, kMaxImageCount));
  request.count = proto.count();
  request.sampling = SamplingFromProto(proto.sampling(), defaults);
  DUET_RETURN_IF_ERROR(fusion::ValidateSampling(request.sampling, c.image_codebook));
  return request;
}

StatusOr<TextRequest> ParseTextRequest(const v1::GenerateTextRequest& proto,
                                       const fusion::TransformerConfig& c) {
  TextRequest request;
  DUET_ASSIGN_OR_RETURN(request.codes, ParseCodes(proto.codes(), c, kMaxCaptionBatch));
  fusion::SamplingParams greedy;
  greedy.temperature = 0.0f;
  request.sampling = SamplingFromProto(proto.sampling(), greedy);
  DUET_RETURN_IF_ERROR(fusion::ValidateSampling(request.sampling, c.text_vocab));
  DUET_RETURN_IF_ERROR(CheckRange<int>("max_tokens", proto.max_tokens(), 0, c.max_caption_len));
  request.max_tokens = proto.max_tokens() == 0 ? c.max_caption_len : proto.max_tokens();
  return request;
}

StatusOr<ScoreRequest> ParseScoreRequest(const v1::ScoreTextRequest& proto,
                                         const fusion::TransformerConfig& c) {
  ScoreRequest request;
  DUET_ASSIGN_OR_RETURN(request.codes, ParseCodes(proto.codes(), c, kMaxScoreBatch));
  if (proto.texts_size() != request.codes.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat("texts must have one entry per image (",
                                                   request.codes.size(0), "), got ",
                                                   proto.texts_size()));
  }
  for (int i = 0; i < proto.texts_size(); ++i) {
    const auto& ids = proto.texts(i).ids();
    if (ids.size() > c.max_caption_len - 1) {
      return absl::InvalidArgumentError(absl::StrCat("texts[", i, "] has ", ids.size(),
                                                     " ids, the limit is ", c.max_caption_len - 1));
    }
    for (int64_t id : ids) {
      if (id < 0 || id >= c.text_vocab) {
        return absl::InvalidArgumentError(absl::StrCat("texts[", i, "] id ", id,
                                                       " is outside [0, ", c.text_vocab, ")"));
      }
    }
    request.texts.emplace_back(ids.begin(), ids.end());
  }
  return request;
}

namespace {

template <typename Response>
void SendProgress(StreamWriter<Response>* writer, int64_t done, int64_t total) {
  Response message;
  message.mutable_progress()->set_done(done);
  message.mutable_progress()->set_total(total);
  writer->Write(std::move(message), /*replaceable=*/true);
}

}  // namespace

grpc::ServerWriteReactor<v1::GenerateImageCodesResponse>* TransformerService::GenerateImageCodes(
    grpc::CallbackServerContext* context, const v1::GenerateImageCodesRequest* proto) {
  using Response = v1::GenerateImageCodesResponse;
  auto* writer = new StreamWriter<Response>();
  StatusOr<ImageRequest> request = ParseImageRequest(*proto, scheduler_->config(), image_defaults_);
  if (!request.ok()) {
    writer->Close(ToGrpcStatus(request.status()));
    return writer;
  }
  request->cancelled = CancelCheck(writer, context);
  request->progress = [writer](int64_t done, int64_t total) { SendProgress(writer, done, total); };
  request->done = [writer](StatusOr<torch::Tensor> codes) {
    Response message;
    Status status = codes.status();
    if (status.ok()) status = TensorToProto(*codes, message.mutable_codes());
    if (status.ok()) writer->Write(std::move(message), false);
    writer->Close(ToGrpcStatus(status));
  };
  const Status submitted = scheduler_->Submit(*std::move(request));
  if (!submitted.ok()) writer->Close(ToGrpcStatus(submitted));
  return writer;
}

grpc::ServerWriteReactor<v1::GenerateTextResponse>* TransformerService::GenerateText(
    grpc::CallbackServerContext* context, const v1::GenerateTextRequest* proto) {
  using Response = v1::GenerateTextResponse;
  auto* writer = new StreamWriter<Response>();
  StatusOr<TextRequest> request = ParseTextRequest(*proto, scheduler_->config());
  if (!request.ok()) {
    writer->Close(ToGrpcStatus(request.status()));
    return writer;
  }
  request->cancelled = CancelCheck(writer, context);
  request->progress = [writer](int64_t done, int64_t total) { SendProgress(writer, done, total); };
  request->done = [writer](StatusOr<std::vector<std::vector<int64_t>>> captions) {
    if (!captions.ok()) return writer->Close(ToGrpcStatus(captions.status()));
    Response message;
    for (const auto& ids : *captions) {
      message.mutable_captions()->add_texts()->mutable_ids()->Add(ids.begin(), ids.end());
    }
    writer->Write(std::move(message), false);
    writer->Close(grpc::Status::OK);
  };
  const Status submitted = scheduler_->Submit(*std::move(request));
  if (!submitted.ok()) writer->Close(ToGrpcStatus(submitted));
  return writer;
}

grpc::ServerUnaryReactor* TransformerService::ScoreText(grpc::CallbackServerContext* context,
                                                        const v1::ScoreTextRequest* proto,
                                                        v1::ScoreTextResponse* response) {
  StatusOr<ScoreRequest> request = ParseScoreRequest(*proto, scheduler_->config());
  if (!request.ok()) return FinishNow(context, request.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  request->cancelled = [context] { return context->IsCancelled(); };
  request->done = [reactor, response](StatusOr<std::vector<double>> scores) {
    if (scores.ok()) response->mutable_log_probs()->Add(scores->begin(), scores->end());
    reactor->Finish(ToGrpcStatus(scores.status()));
  };
  const Status submitted = scheduler_->Submit(*std::move(request));
  if (!submitted.ok()) reactor->Finish(ToGrpcStatus(submitted));
  return reactor;
}

grpc::ServerUnaryReactor* TransformerService::GetStats(grpc::CallbackServerContext* context,
                                                       const v1::GetStatsRequest*,
                                                       v1::TransformerStats* response) {
  const SchedulerStats s = scheduler_->stats();
  response->set_steps(s.steps);
  response->set_forwards(s.forwards);
  response->set_active(s.active);
  response->set_queued(s.queued);
  response->set_completed(s.completed);
  response->set_cancelled(s.cancelled);
  response->set_rows(s.rows);
  response->set_compute_dtype(DtypeName(scheduler_->compute_dtype()));
  return FinishNow(context, absl::OkStatus());
}

}  // namespace duet::services
