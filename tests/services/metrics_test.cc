// Metrics: the registry's text format, and Debian's Prometheus server scraping a cluster's
// /metrics endpoint, with the series read back through Prometheus's HTTP query API.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/common/metrics_http.h"
#include "tests/services/test_cluster.h"
#include "tools/client/child_process.h"

namespace duet::services::testing {
namespace {

using std::chrono::milliseconds;

TEST(MetricsTest, RegistryRendersTheTextFormat) {
  MetricsRegistry m;
  m.Describe("demo_calls_total", MetricType::kCounter, "calls");
  m.Describe("demo_waiting", MetricType::kGauge, "waiting");
  m.Describe("demo_seconds", MetricType::kHistogram, "time", {0.1, 1});
  m.Add("demo_calls_total", {{"method", "a\"b"}}, 2);
  m.Add("demo_calls_total", {{"method", "a\"b"}});
  m.Add("demo_calls_total", {}, -5);  // counters never go down: no series appears
  m.Add("demo_waiting", {}, 3);
  m.Add("demo_waiting", {}, -1);
  m.Observe("demo_seconds", {{"q", "x"}}, 0.05);
  m.Observe("demo_seconds", {{"q", "x"}}, 0.5);
  m.Observe("demo_seconds", {{"q", "x"}}, 7);
  m.Add("undescribed_total", {});  // ignored
  m.Set("demo_calls_total", {}, 9);  // wrong type: ignored
  EXPECT_EQ(m.Render(),
            "# HELP demo_calls_total calls\n# TYPE demo_calls_total counter\n"
            "demo_calls_total{method=\"a\\\"b\"} 3\n"
            "# HELP demo_seconds time\n# TYPE demo_seconds histogram\n"
            "demo_seconds_bucket{q=\"x\",le=\"0.1\"} 1\n"
            "demo_seconds_bucket{q=\"x\",le=\"1\"} 2\n"
            "demo_seconds_bucket{q=\"x\",le=\"+Inf\"} 3\n"
            "demo_seconds_sum{q=\"x\"} 7.55\n"
            "demo_seconds_count{q=\"x\"} 3\n"
            "# HELP demo_waiting waiting\n# TYPE demo_waiting gauge\n"
            "demo_waiting 2\n");
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t size = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  close(fd);
  return ntohs(addr.sin_port);
}

// The value of the single series `query` selects, or -1 while Prometheus has none.
double Query(httplib::Client& prometheus, const std::string& query) {
  auto response = prometheus.Get("/api/v1/query", {{"query", query}}, httplib::Headers{});
  if (!response || response->status != 200) return -1;
  const nlohmann::json body = nlohmann::json::parse(response->body, nullptr, false);
  if (!body.contains("data") || body["data"]["result"].size() != 1) return -1;
  return std::stod(body["data"]["result"][0]["value"][1].get<std::string>());
}

// The value of `series` (name and labels exactly as rendered) in the text format, or 0.
double Scraped(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 2));
}

TEST(MetricsTest, PrometheusScrapesRequestsDecodingAndMemory) {
  const std::string prometheus_bin = "/usr/bin/prometheus";
  ASSERT_TRUE(std::filesystem::exists(prometheus_bin))
      << "Prometheus is not installed: run bash scripts/setup.sh";
  Cluster cluster;
  auto metrics = MetricsServer::Start("127.0.0.1:0", &ProcessMetrics());
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  // Earlier tests in this process counted too: compare with what was there before.
  const std::string generated =
      "duet_grpc_requests_total{method=\"/duet.v1.Duet/GenerateImages\",code=\"OK\"}";
  const std::string before = ProcessMetrics().Render();
  {
    v1::GenerateImagesRequest request;
    request.set_prompt("a red apple");
    request.set_count(2);
    grpc::ClientContext context;
    auto reader = cluster.Gateway()->GenerateImages(&context, request);
    std::vector<v1::GenerateImagesResponse> out;
    ASSERT_TRUE(ReadAll(reader, &out).ok());
  }

  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("duet_prometheus_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "prometheus.yml")
      << "global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: duet\n"
      << "    static_configs: [{targets: ['" << (*metrics)->address() << "']}]\n";
  const int port = FreePort();
  auto prometheus = client::ChildProcess::Spawn(
      {prometheus_bin, "--config.file=" + (dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"});
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  httplib::Client api("127.0.0.1", port);
  api.set_connection_timeout(1);

  double calls = -1;
  for (int i = 0; i < 600 && calls < 0; ++i) {  // start-up plus the first scrapes
    std::this_thread::sleep_for(milliseconds(100));
    calls = Query(api, generated);
  }
  EXPECT_EQ(calls, Scraped(before, generated) + 1);
  EXPECT_EQ(Query(api, "duet_drafts_total"), Scraped(before, "duet_drafts_total") + 2);
  EXPECT_GT(Query(api, "duet_scheduler_steps_total"), Scraped(before, "duet_scheduler_steps_total"));
  EXPECT_EQ(Query(api, "duet_decode_tokens_total"),
            Scraped(before, "duet_decode_tokens_total") +
                2 * TinyModel().config().transformer.image_tokens());
  EXPECT_GT(Query(api, "duet_scheduler_step_rows_count"), 0);
  EXPECT_GT(Query(api, "duet_queue_wait_seconds_count{queue=\"transformer\"}"), 0);
  EXPECT_GT(Query(api, "duet_process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(Query(api, "duet_startup_seconds"), 0);
  EXPECT_EQ(Query(api, "up{job=\"duet\"}"), 1);
  (*prometheus)->Signal(SIGTERM);
  (*prometheus)->Wait(milliseconds(10000)).IgnoreError();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace duet::services::testing
