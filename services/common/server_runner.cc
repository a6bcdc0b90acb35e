// Implementation of services/common/server_runner.h.
#include "services/common/server_runner.h"

#include <signal.h>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>

#include <iterator>
#include <thread>

#include "common/log.h"
#include "services/common/metrics_http.h"
#include "services/common/termination.h"

namespace duet::services {
namespace {

constexpr std::chrono::milliseconds kDrainPoll(5);

// Counts the server's calls from start to end (one interceptor lives as long as its call) and
// records each one's method, status code and duration in ProcessMetrics().
class CallCounter final : public grpc::experimental::Interceptor {
 public:
  CallCounter(std::atomic<int64_t>* calls, std::string method)
      : calls_(calls), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {
    ++*calls_;
    ProcessMetrics().Add("duet_grpc_requests_in_flight", {}, 1);
  }
  ~CallCounter() override {
    --*calls_;
    MetricsRegistry& metrics = ProcessMetrics();
    metrics.Add("duet_grpc_requests_in_flight", {}, -1);
    metrics.Add("duet_grpc_requests_total", {{"method", method_}, {"code", code_}});
    metrics.Observe("duet_grpc_request_duration_seconds", {{"method", method_}},
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
                        .count());
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = CodeName(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  static std::string CodeName(grpc::StatusCode code) {
    static const char* const kNames[] = {
        "OK",        "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    const size_t i = static_cast<size_t>(code);
    return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
  }

  std::atomic<int64_t>* calls_;
  std::string method_;
  std::string code_ = "CANCELLED";  // no status sent: the client went away first
  std::chrono::steady_clock::time_point start_;
};

class CallCounterFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallCounterFactory(std::atomic<int64_t>* calls) : calls_(calls) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallCounter(calls_, info->method());
  }

 private:
  std::atomic<int64_t>* calls_;
};

std::string ConnectAddress(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "localhost") {
    host = "127.0.0.1";
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace

StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen,
                           options.credentials ? options.credentials
                                               : grpc::InsecureServerCredentials(),
                           &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<ServerRunner> runner(new ServerRunner());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counters;
  counters.push_back(std::make_unique<CallCounterFactory>(&runner->calls_));
  builder.experimental().SetInterceptorCreators(std::move(counters));
  runner->server_ = builder.BuildAndStart();
  if (runner->server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  runner->port_ = port;
  runner->address_ = ConnectAddress(options.listen, port);
  if (!options.metrics_listen.empty()) {
    DUET_ASSIGN_OR_RETURN(runner->metrics_,
                          MetricsServer::Start(options.metrics_listen, &ProcessMetrics()));
  }
  ProcessMetrics().Set("duet_startup_seconds", {}, SecondsSinceProcessStart());
  runner->server_->GetHealthCheckService()->SetServingStatus(true);
  return runner;
}

ServerRunner::~ServerRunner() { Shutdown(std::chrono::milliseconds(0)); }

// grpc::Server::Shutdown(deadline) waits for every connection to close, not just for calls, so
// one idle client that never answers the GOAWAY ping would hold it for its 20 s timeout. Once
// the last call has finished (or `drain` has passed), cancelling closes what is left at once.
void ServerRunner::Shutdown(std::chrono::milliseconds drain) {
  std::call_once(shutdown_once_, [&] {
    server_->GetHealthCheckService()->SetServingStatus(false);
    const auto deadline = std::chrono::system_clock::now() + drain;
    std::thread shutdown([&] { server_->Shutdown(deadline); });  // refuses new calls at once
    while (calls_ > 0 && std::chrono::system_clock::now() < deadline) {
      std::this_thread::sleep_for(kDrainPoll);
    }
    grpc_server_cancel_all_calls(server_->c_server());
    shutdown.join();
    server_->Wait();
  });
}

void ServerRunner::Wait() { server_->Wait(); }

std::string ServerRunner::metrics_address() const {
  return metrics_ == nullptr ? std::string() : metrics_->address();
}

int ServeUntilSignal(ServerRunner& runner, std::chrono::milliseconds drain,
                     const std::function<void()>& before_drain) {
  int signal = 0;
  while (signal == 0) signal = WaitForTerminationSignal(std::chrono::hours(1));
  DUET_LOG(INFO) << "received " << (signal == SIGTERM ? "SIGTERM" : "SIGINT")
                 << ", draining for up to " << drain.count() << " ms";
  if (before_drain) before_drain();
  runner.Shutdown(drain);
  DUET_LOG(INFO) << "drained, exiting";
  return 0;
}

}  // namespace duet::services
