// `duet generate --server ADDR`: GenerateImages through the gateway; drafts and a contact sheet
// written to a directory, a progress bar while the codes are drawn.
#include <cstdio>

#include "duet/v1/gateway.grpc.pb.h"
#include "tools/client/client.h"
#include "tools/client/gateway_connection.h"
#include "tools/command.h"
#include "tools/draft_output.h"
#include "tools/generate_flags.h"
#include "tools/progress.h"

namespace duet::client {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs =
      tools::Concat(tools::Concat(GatewayFlagSpecs(), tools::GenerateFlagSpecs()),
                    {{"timeout", "", "seconds before giving up", "600"}});
  return specs;
}

StatusOr<v1::GenerateImagesRequest> BuildRequest(const Flags& flags) {
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("expected one prompt, got ",
                                                   flags.positional().size()));
  }
  // Unset sampling flags stay unset: the gateway fills them from the model's config.json.
  DUET_ASSIGN_OR_RETURN(const tools::GenerateFlags given, tools::ReadGenerateFlags(flags));
  const model::SamplingOverrides& sampling = given.sampling;
  v1::GenerateImagesRequest request;
  request.set_prompt(flags.positional()[0]);
  request.set_count(given.count);
  request.set_seed(sampling.seed);
  if (sampling.temperature) request.set_temperature(*sampling.temperature);
  if (sampling.top_k) request.set_top_k(*sampling.top_k);
  if (sampling.top_p) request.set_top_p(*sampling.top_p);
  if (sampling.guidance_scale) request.set_guidance_scale(*sampling.guidance_scale);
  request.set_rerank(given.rerank);
  return request;
}

Status Generate(const Flags& flags) {
  DUET_ASSIGN_OR_RETURN(const GatewayConnection gateway, ConnectGateway(flags));
  DUET_ASSIGN_OR_RETURN(const v1::GenerateImagesRequest request, BuildRequest(flags));
  DUET_ASSIGN_OR_RETURN(const int64_t timeout, flags.GetInt("timeout", 1, 86400));
  DUET_ASSIGN_OR_RETURN(tools::DraftWriter writer, tools::DraftWriter::Open(flags.Get("out")));

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout));
  gateway.Authorize(context);
  auto reader = gateway.stub->GenerateImages(&context, request);
  {
    tools::ProgressBar bar("generating");
    v1::GenerateImagesResponse message;
    while (reader->Read(&message)) {
      if (message.has_progress()) {
        bar.Update(message.progress().done(), message.progress().total());
        continue;
      }
      const v1::Draft& draft = message.draft();
      DUET_RETURN_IF_ERROR(writer.Add(draft.seed(), draft.score(), draft.png()));
    }
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return writer.Finish();
}

}  // namespace

int RunRemoteGenerate(int argc, char** argv) {
  return tools::RunCommand({"generate", "--server ADDR [-n N] [-s SEED] [-o DIR] \"prompt\"",
                            "Draws image drafts through a Duet gateway.", Specs(), {"server"}},
                           argc, argv, tools::ExitZeroWhenOk(Generate));
}

}  // namespace duet::client
