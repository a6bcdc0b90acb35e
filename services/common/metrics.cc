// Implementation of services/common/metrics.h.
#include "services/common/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace duet::services {
namespace {

const auto kProcessStart = std::chrono::steady_clock::now();  // static init: close to exec

// A label value with \, " and newline escaped, as the text format asks.
std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

std::string LabelText(const MetricLabels& labels) {
  std::string text;
  for (const auto& [key, value] : labels) {
    absl::StrAppend(&text, text.empty() ? "" : ",", key, "=\"", Escape(value), "\"");
  }
  return text.empty() ? "" : absl::StrCat("{", text, "}");
}

double SecondsBetween(std::chrono::steady_clock::time_point from,
                      std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrCat(v);
}

const char* TypeName(MetricType type) {
  return type == MetricType::kCounter ? "counter"
         : type == MetricType::kGauge ? "gauge"
                                      : "histogram";
}

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  double pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

void MetricsRegistry::Describe(const std::string& name, MetricType type, const std::string& help,
                               std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mu_);
  if (families_.count(name)) return;
  std::sort(buckets.begin(), buckets.end());
  families_[name] = Family{type, help, std::move(buckets), {}};
}

MetricsRegistry::Series* MetricsRegistry::Find(const std::string& name, MetricType type,
                                               const MetricLabels& labels) {
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != type) return nullptr;
  Series& series = it->second.series[LabelText(labels)];
  if (type == MetricType::kHistogram && series.buckets.empty()) {
    series.buckets.assign(it->second.bounds.size(), 0);
  }
  return &series;
}

void MetricsRegistry::Add(const std::string& name, const MetricLabels& labels, double by) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  const MetricType type = it->second.type;
  if (type == MetricType::kHistogram || (type == MetricType::kCounter && by < 0)) return;
  Find(name, type, labels)->value += by;
}

void MetricsRegistry::Set(const std::string& name, const MetricLabels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Series* s = Find(name, MetricType::kGauge, labels)) s->value = value;
}

void MetricsRegistry::Observe(const std::string& name, const MetricLabels& labels,
                              double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Series* s = Find(name, MetricType::kHistogram, labels);
  if (s == nullptr) return;
  const std::vector<double>& bounds = families_[name].bounds;
  const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), value);
  if (bucket != bounds.end()) ++s->buckets[bucket - bounds.begin()];
  s->sum += value;
  ++s->count;
}

void MetricsRegistry::OnRender(std::function<void(MetricsRegistry&)> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::Render() {
  std::vector<std::function<void(MetricsRegistry&)>> hooks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook(*this);
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ",
                    TypeName(family.type), "\n");
    for (const auto& [labels, s] : family.series) {
      if (family.type != MetricType::kHistogram) {
        absl::StrAppend(&out, name, labels, " ", Number(s.value), "\n");
        continue;
      }
      const std::string base = labels.empty() ? "" : labels.substr(1, labels.size() - 2);
      auto with = [&](const std::string& le) {
        return absl::StrCat("{", base, base.empty() ? "" : ",", "le=\"", le, "\"}");
      };
      uint64_t cumulative = 0;
      for (size_t i = 0; i < family.bounds.size(); ++i) {
        cumulative += s.buckets[i];
        absl::StrAppend(&out, name, "_bucket", with(Number(family.bounds[i])), " ", cumulative,
                        "\n");
      }
      absl::StrAppend(&out, name, "_bucket", with("+Inf"), " ", s.count, "\n", name, "_sum",
                      labels, " ", Number(s.sum), "\n", name, "_count", labels, " ", s.count,
                      "\n");
    }
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> CountBuckets() {
  std::vector<double> buckets;
  for (double b = 1; b <= 4096; b *= 2) buckets.push_back(b);
  return buckets;
}

MetricsRegistry& ProcessMetrics() {
  static MetricsRegistry* registry = [] {
    auto* r = new MetricsRegistry();  // never destroyed: threads may record during exit
    r->Describe("duet_grpc_requests_total", MetricType::kCounter,
                "gRPC calls finished, by method and status code");
    r->Describe("duet_grpc_request_duration_seconds", MetricType::kHistogram,
                "gRPC call time from start to end, by method", LatencyBuckets());
    r->Describe("duet_grpc_requests_in_flight", MetricType::kGauge, "gRPC calls running now");
    r->Describe("duet_process_resident_memory_bytes", MetricType::kGauge,
                "resident memory of this process");
    r->Describe("duet_startup_seconds", MetricType::kGauge,
                "process start until serving: flags and the model load");
    r->Describe("duet_queue_wait_seconds", MetricType::kHistogram,
                "time a request waited in a queue before work on it began, by queue",
                LatencyBuckets());
    r->Describe("duet_queue_run_seconds", MetricType::kHistogram,
                "time from the start of work on a request to its end, by queue", LatencyBuckets());
    r->Describe("duet_queue_waiting", MetricType::kGauge, "requests waiting in a queue, by queue");
    r->Describe("duet_queue_running", MetricType::kGauge, "requests being worked on, by queue");
    r->Describe("duet_drafts_total", MetricType::kCounter, "image drafts sent to clients");
    r->Describe("duet_captions_total", MetricType::kCounter, "captions sent to clients");
    r->Describe("duet_scheduler_steps_total", MetricType::kCounter,
                "transformer scheduler steps that ran at least one forward");
    r->Describe("duet_scheduler_rows_total", MetricType::kCounter,
                "rows computed by the transformer: prefill, decoding and scoring");
    r->Describe("duet_decode_tokens_total", MetricType::kCounter,
                "tokens sampled by the transformer (image codes and caption tokens)");
    r->Describe("duet_scheduler_step_rows", MetricType::kHistogram,
                "rows per scheduler step: the batch size", CountBuckets());
    r->OnRender([](MetricsRegistry& m) {
      m.Set("duet_process_resident_memory_bytes", {}, ResidentBytes());
    });
    return r;
  }();
  return *registry;
}

double SecondsSinceProcessStart() {
  return SecondsBetween(kProcessStart, std::chrono::steady_clock::now());
}

void QueueMetrics::Enqueued() const { ProcessMetrics().Add("duet_queue_waiting", labels_, 1); }

QueueMetrics::Clock::time_point QueueMetrics::Started(Clock::time_point enqueued) const {
  const Clock::time_point now = Clock::now();
  MetricsRegistry& metrics = ProcessMetrics();
  metrics.Add("duet_queue_waiting", labels_, -1);
  metrics.Add("duet_queue_running", labels_, 1);
  metrics.Observe("duet_queue_wait_seconds", labels_, SecondsBetween(enqueued, now));
  return now;
}

void QueueMetrics::Finished(Clock::time_point started) const {
  MetricsRegistry& metrics = ProcessMetrics();
  metrics.Add("duet_queue_running", labels_, -1);
  metrics.Observe("duet_queue_run_seconds", labels_, SecondsBetween(started, Clock::now()));
}

}  // namespace duet::services
