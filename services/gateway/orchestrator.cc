// Implementation of services/gateway/orchestrator.h.
#include "services/gateway/orchestrator.h"

#include "pipeline/draft_pipeline.h"
#include "services/common/metrics.h"
#include "services/common/wire_values.h"

namespace duet::services {
namespace {

// The request as the pipeline takes it; unset sampling settings from the model's config.json.
pipeline::DraftOptions OptionsOf(const v1::GenerateImagesRequest& r,
                                 const model::SamplingDefaults& defaults) {
  model::SamplingOverrides o;
  if (r.has_temperature()) o.temperature = r.temperature();
  if (r.has_top_k()) o.top_k = r.top_k();
  if (r.has_top_p()) o.top_p = r.top_p();
  if (r.has_guidance_scale()) o.guidance_scale = r.guidance_scale();
  o.seed = r.seed();
  return {r.count(), o.Resolve(defaults), r.rerank()};
}

}  // namespace

Orchestrator::Orchestrator(model::ModelConfig config, const BackendAddresses& backends,
                           int max_message_bytes, size_t max_image_bytes)
    : config_(std::move(config)),
      max_image_bytes_(max_image_bytes),
      backends_(backends, max_message_bytes) {}

Status Orchestrator::ValidateGenerate(const v1::GenerateImagesRequest& request) const {
  return pipeline::ValidateDrafts(config_, request.prompt(), OptionsOf(request, config_.sampling));
}

Status Orchestrator::GenerateImages(grpc::CallbackServerContext* context,
                                    const v1::GenerateImagesRequest& request,
                                    const std::function<void(int64_t, int64_t)>& progress,
                                    const std::function<void(v1::Draft)>& draft) const {
  RemoteParts parts(backends_, config_, context);
  return pipeline::GenerateDrafts(
      parts, config_, request.prompt(), OptionsOf(request, config_.sampling),
      [&](int64_t done, int64_t total) {
        progress(done, total);
        return true;
      },
      [&](pipeline::Draft made) {
        v1::Draft out;
        out.set_index(made.index);
        out.set_seed(made.seed);
        out.set_score(made.score);
        out.set_png(std::move(made.png));
        draft(std::move(out));
        ProcessMetrics().Add("duet_drafts_total", {});
        return absl::OkStatus();
      });
}

Status Orchestrator::ValidateCaption(const std::string& image) const {
  if (image.empty()) return absl::InvalidArgumentError("image must not be empty");
  if (image.size() > max_image_bytes_) {  // at the edge, before the codec sees it
    return absl::InvalidArgumentError(absl::StrCat("image is ", image.size(),
                                                   " bytes, the limit is ", max_image_bytes_));
  }
  return absl::OkStatus();
}

StatusOr<v1::CaptionResponse> Orchestrator::Caption(grpc::CallbackServerContext* context,
                                                    const std::string& image) const {
  DUET_RETURN_IF_ERROR(ValidateCaption(image));
  RemoteParts parts(backends_, config_, context);
  fusion::SamplingParams greedy;
  greedy.temperature = 0;
  DUET_ASSIGN_OR_RETURN(const std::vector<pipeline::Caption> captions,
                        pipeline::CaptionImages(parts, config_, {image}, greedy));
  v1::CaptionResponse response;
  response.set_caption(captions.at(0).text);
  response.set_score(captions.at(0).score);
  ProcessMetrics().Add("duet_captions_total", {});
  return response;
}

void Orchestrator::FillModelInfo(grpc::CallbackServerContext* context, v1::ModelInfo* info) const {
  info->set_name(config_.name);
  info->set_image_resolution(config_.image_tokenizer.resolution);
  info->set_image_grid(config_.transformer.image_grid);
  info->set_codebook_size(config_.transformer.image_codebook);
  info->set_text_vocab_size(config_.transformer.text_vocab);
  info->set_max_prompt_tokens(config_.text_encoder.max_len);
  info->set_max_caption_tokens(config_.transformer.max_caption_len - 1);
  info->set_max_drafts(pipeline::kMaxDrafts);
  info->set_config_json(config_.ToJson().dump(2));
  SamplingToProto(config_.sampling.Params(), info->mutable_default_sampling());
  v1::TransformerStats stats;
  auto child = ChildContext(context);
  if (backends_.transformer->GetStats(child.get(), v1::GetStatsRequest(), &stats).ok()) {
    info->set_compute_dtype(stats.compute_dtype());
  }
}

}  // namespace duet::services
