// `duet caption --server ADDR`: images streamed through Duet.CaptionStream; inputs, lines and
// exit code as in process (tools/caption_output.h); unreadable files are answered locally.
#include <cstdio>
#include <thread>

#include "common/file.h"
#include "duet/v1/gateway.grpc.pb.h"
#include "tools/caption_output.h"
#include "tools/client/client.h"
#include "tools/client/gateway_connection.h"
#include "tools/command.h"
#include "tools/progress.h"

namespace duet::client {
namespace {

constexpr size_t kMaxImageBytes = size_t{32} << 20;

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs =
      tools::Concat(tools::Concat(GatewayFlagSpecs(), tools::CaptionOutputFlagSpecs()),
                    {{"timeout", "", "seconds before giving up on the whole run", "86400"}});
  return specs;
}

// The exit code: 1 when any input failed (tools/caption_output.h).
StatusOr<int> Caption(const Flags& flags) {
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> paths, tools::CaptionInputs(flags));
  DUET_ASSIGN_OR_RETURN(tools::CaptionPrinter printer, tools::CaptionPrinter::Make(flags));
  DUET_ASSIGN_OR_RETURN(const GatewayConnection gateway, ConnectGateway(flags));
  DUET_ASSIGN_OR_RETURN(const int64_t timeout, flags.GetInt("timeout", 1, 86400 * 7));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout));
  gateway.Authorize(context);
  auto stream = gateway.stub->CaptionStream(&context);
  // Files that cannot be read are answered locally, in order, between the server's answers.
  std::vector<Status> read_errors(paths.size());
  std::thread writer([&] {
    for (size_t i = 0; i < paths.size(); ++i) {
      StatusOr<std::string> bytes = ReadFile(paths[i], kMaxImageBytes);
      if (!bytes.ok()) {
        read_errors[i] = bytes.status();
        continue;
      }
      v1::CaptionStreamRequest request;
      request.set_id(std::to_string(i));
      request.set_image(*std::move(bytes));
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  tools::ProgressBar bar("captioning");
  size_t next = 0;
  v1::CaptionStreamResponse response;
  while (stream->Read(&response)) {
    const size_t index = std::stoul(response.id());
    for (; next < index; ++next) {  // skipped: unreadable locally
      printer.Failed(paths[next], std::string(read_errors[next].message()));
    }
    if (response.error_code() == 0) {
      printer.Captioned(paths[index], response.caption(), response.score());
    } else {
      printer.Failed(paths[index], response.error_message());
    }
    next = index + 1;
    bar.Update(static_cast<int64_t>(next), static_cast<int64_t>(paths.size()));
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  for (; status.ok() && next < paths.size(); ++next) {
    printer.Failed(paths[next], std::string(read_errors[next].message()));
  }
  if (!status.ok()) {
    return Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return printer.Finish();
}

}  // namespace

int RunRemoteCaption(int argc, char** argv) {
  return tools::RunCommand(
      {"caption", "--server ADDR (FILE... | --dir DIR) [--format jsonl|tsv]",
       "Captions images through a Duet gateway.", Specs(), {"server"}},
      argc, argv, Caption);
}

}  // namespace duet::client
