// Implementation of bench/services/soak_tally.h.
#include "bench/services/soak_tally.h"

#include <algorithm>

namespace duet::bench {
namespace {

// The q-quantile (nearest rank) of `sorted`, in milliseconds; 0 when empty.
double QuantileMs(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()));
  return 1000 * sorted[rank];
}

void Add(Tally::Totals* totals, Verdict verdict) {
  ++totals->calls;
  if (verdict == Verdict::kExpected) ++totals->expected;
  if (verdict == Verdict::kBusy) ++totals->busy;
  if (verdict == Verdict::kUnexpected) ++totals->unexpected;
}

nlohmann::json TotalsJson(const Tally::Totals& t) {
  return {
      {"calls", t.calls}, {"expected", t.expected}, {"busy", t.busy}, {"unexpected", t.unexpected}};
}

}  // namespace

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "CODE_OUT_OF_RANGE";
}

void Tally::Record(const Outcome& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  Row& row = rows_[outcome.scenario];
  row.rpc = outcome.rpc;
  ++row.codes[CodeName(outcome.code)];
  Add(&row.totals, outcome.verdict);
  Add(&totals_, outcome.verdict);
  if (outcome.verdict == Verdict::kExpected && outcome.seconds >= 0) {
    row.expected_seconds.push_back(outcome.seconds);
  }
  if (outcome.verdict == Verdict::kUnexpected && unexpected_samples_.size() < kUnexpectedSamples) {
    unexpected_samples_.push_back(outcome.scenario + " (" + outcome.rpc + ") " +
                                  CodeName(outcome.code) + ": " + outcome.detail);
  }
}

Tally::Totals Tally::totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

void Tally::Print(std::FILE* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(out, "%-22s %-20s %8s %6s %6s %9s %9s  %s\n", "scenario", "rpc", "calls", "busy",
               "unexp", "p50 ms", "p99 ms", "codes");
  for (const auto& [scenario, row] : rows_) {
    std::vector<double> sorted = row.expected_seconds;
    std::sort(sorted.begin(), sorted.end());
    std::string codes;
    for (const auto& [code, count] : row.codes) {
      codes += (codes.empty() ? "" : " ") + code + "=" + std::to_string(count);
    }
    const auto ms = [&sorted](double q) {
      char text[32] = "-";
      if (!sorted.empty()) std::snprintf(text, sizeof(text), "%.1f", QuantileMs(sorted, q));
      return std::string(text);
    };
    std::fprintf(out, "%-22s %-20s %8lld %6lld %6lld %9s %9s  %s\n", scenario.c_str(),
                 row.rpc.c_str(), static_cast<long long>(row.totals.calls),
                 static_cast<long long>(row.totals.busy),
                 static_cast<long long>(row.totals.unexpected), ms(0.50).c_str(), ms(0.99).c_str(),
                 codes.c_str());
  }
  std::fprintf(out, "total: %lld calls, %lld expected, %lld busy, %lld unexpected\n",
               static_cast<long long>(totals_.calls), static_cast<long long>(totals_.expected),
               static_cast<long long>(totals_.busy), static_cast<long long>(totals_.unexpected));
  for (const std::string& sample : unexpected_samples_) {
    std::fprintf(out, "unexpected: %s\n", sample.c_str());
  }
}

nlohmann::json Tally::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json scenarios = nlohmann::json::array();
  for (const auto& [scenario, row] : rows_) {
    std::vector<double> sorted = row.expected_seconds;
    std::sort(sorted.begin(), sorted.end());
    nlohmann::json entry = TotalsJson(row.totals);
    entry["scenario"] = scenario;
    entry["rpc"] = row.rpc;
    entry["codes"] = row.codes;
    entry["latency_ms"] = {{"count", sorted.size()},
                           {"p50", QuantileMs(sorted, 0.50)},
                           {"p99", QuantileMs(sorted, 0.99)},
                           {"max", QuantileMs(sorted, 1.0)}};
    scenarios.push_back(std::move(entry));
  }
  return {{"totals", TotalsJson(totals_)},
          {"scenarios", std::move(scenarios)},
          {"unexpected_samples", unexpected_samples_}};
}

}  // namespace duet::bench
