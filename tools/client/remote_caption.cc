// `duet caption --server ADDR`: images streamed through Duet.CaptionStream, one JSON line per
// image on stdout in input order; unreadable files become error lines and the run goes on.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/file.h"
#include "duet/v1/gateway.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "services/common/server_runner.h"
#include "tools/client/gateway_connection.h"
#include "tools/client/client.h"
#include "tools/flags.h"
#include "tools/progress.h"

namespace duet::client {
namespace {

constexpr size_t kMaxImageBytes = size_t{32} << 20;

const std::vector<tools::FlagSpec>& Specs() {
  static const std::vector<tools::FlagSpec> specs = [] {
    std::vector<tools::FlagSpec> all = GatewayFlagSpecs();
    all.push_back({"dir", "d", "caption every file in this directory (sorted by name)", ""});
    all.push_back({"timeout", "", "seconds before giving up on the whole run", "86400"});
    return all;
  }();
  return specs;
}

StatusOr<std::vector<std::string>> InputPaths(const tools::Flags& flags) {
  std::vector<std::string> paths = flags.positional();
  if (!flags.Get("dir").empty()) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(flags.Get("dir"), error)) {
      if (entry.is_regular_file()) paths.push_back(entry.path().string());
    }
    if (error) return absl::InvalidArgumentError(absl::StrCat("--dir: ", error.message()));
    std::sort(paths.begin() + flags.positional().size(), paths.end());
  }
  if (paths.empty()) return absl::InvalidArgumentError("expected image files or --dir");
  return paths;
}

void PrintLine(const nlohmann::json& line) {
  std::fputs((line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(),
             stdout);
  std::fflush(stdout);
}

Status Caption(const tools::Flags& flags) {
  DUET_ASSIGN_OR_RETURN(const GatewayConnection gateway, ConnectGateway(flags));
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> paths, InputPaths(flags));
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
  size_t next = 0, failures = 0;
  v1::CaptionStreamResponse response;
  while (stream->Read(&response)) {
    const size_t index = std::stoul(response.id());
    for (; next < index; ++next) {  // skipped: unreadable locally
      PrintLine({{"path", paths[next]}, {"error", std::string(read_errors[next].message())}});
      ++failures;
    }
    nlohmann::json line = {{"path", paths[index]}};
    if (response.error_code() == 0) {
      line["caption"] = response.caption();
      line["score"] = response.score();
    } else {
      line["error"] = response.error_message();
      ++failures;
    }
    PrintLine(line);
    next = index + 1;
    bar.Update(static_cast<int64_t>(next), static_cast<int64_t>(paths.size()));
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  for (; status.ok() && next < paths.size(); ++next) {
    PrintLine({{"path", paths[next]}, {"error", std::string(read_errors[next].message())}});
    ++failures;
  }
  if (!status.ok()) {
    return Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  std::cerr << "duet caption: " << paths.size() - failures << " captioned, " << failures
            << " failed\n";
  return absl::OkStatus();
}

}  // namespace

int RunRemoteCaption(int argc, char** argv) {
  StatusOr<tools::Flags> flags = tools::Flags::Parse(Specs(), argc, argv, 2);
  if (flags.ok() && flags->help()) {
    std::fputs(tools::FlagsHelp("caption", "--server ADDR (FILE... | --dir DIR)",
                                "Captions images through a Duet gateway; JSON lines on stdout.",
                                Specs()).c_str(), stdout);
    return 0;
  }
  const Status status = flags.ok() ? Caption(*flags) : flags.status();
  if (status.ok()) return 0;
  std::cerr << "duet caption: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return flags.ok() ? 1 : 2;
}

}  // namespace duet::client
