// Process metrics in the Prometheus text format (version 0.0.4): counters, gauges and histograms
// keyed by name and labels. Every server records into ProcessMetrics(); the HTTP endpoint
// (metrics_http.h) renders it. Names follow Prometheus conventions: duet_..._total counters,
// _seconds histograms, base units.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace duet::services {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kGauge, kHistogram };

// Thread-safe. A metric name is described once (type, help, histogram buckets) before use; using
// an undescribed name, or one as the wrong type, is ignored (it is a programming error, never
// worth a crash in a server).
class MetricsRegistry {
 public:
  void Describe(const std::string& name, MetricType type, const std::string& help,
                std::vector<double> buckets = {});
  // Counter (by >= 0) or gauge (either sign).
  void Add(const std::string& name, const MetricLabels& labels, double by = 1);
  void Set(const std::string& name, const MetricLabels& labels, double value);   // gauge
  void Observe(const std::string& name, const MetricLabels& labels, double value);  // histogram
  // Runs before every Render, to refresh gauges read from elsewhere (resident memory).
  void OnRender(std::function<void(MetricsRegistry&)> hook);
  std::string Render();

 private:
  struct Series {
    double value = 0;                // counter or gauge
    std::vector<uint64_t> buckets;   // histogram: observations <= each bound (not cumulative)
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    MetricType type;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Series* Find(const std::string& name, MetricType type, const MetricLabels& labels);

  std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<std::function<void(MetricsRegistry&)>> hooks_;
};

// Buckets for latencies in seconds: 1 ms to 60 s.
std::vector<double> LatencyBuckets();
// Buckets for counts (rows per step): 1, 2, 4, ..., 4096.
std::vector<double> CountBuckets();

// The process's registry, with the process metrics every server has already described:
// requests by RPC and code, call time, calls in flight, resident memory and start-up time.
MetricsRegistry& ProcessMetrics();

// Seconds since this process started (measured from static initialisation).
double SecondsSinceProcessStart();

// One queue's series in ProcessMetrics(), labelled queue="<name>": duet_queue_waiting and
// duet_queue_running (gauges), duet_queue_wait_seconds and duet_queue_run_seconds. Call
// Enqueued() when a request joins, Started() when work on it begins (returns that time) and
// Finished() when it ends. Thread-safe.
class QueueMetrics {
 public:
  using Clock = std::chrono::steady_clock;
  explicit QueueMetrics(std::string queue) : labels_{{"queue", std::move(queue)}} {}
  void Enqueued() const;
  Clock::time_point Started(Clock::time_point enqueued) const;
  void Finished(Clock::time_point started) const;

 private:
  MetricLabels labels_;
};

}  // namespace duet::services
