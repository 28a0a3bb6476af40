// Prometheus text exposition, format 0.0.4, written by hand: Debian has no
// prometheus-cpp, and nvgate needs a few counters, gauges and one histogram.
//
//   metrics::Exposition out;
//   out.Family("nvgate_calls_total", "NVIDIA calls answered.", metrics::Type::kCounter);
//   out.Sample("nvgate_calls_total", {{"container", id}, {"decision", "denied"}}, 3);
//   std::string text = out.Take();
//
//   # HELP nvgate_calls_total NVIDIA calls answered.
//   # TYPE nvgate_calls_total counter
//   nvgate_calls_total{container="ctr1",decision="denied"} 3
//
// Every sample of a family follows its Family() line, as the format requires;
// names are the caller's literals, label values anything (escaped here).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace nvgate::metrics {

enum class Type : std::uint8_t { kCounter, kGauge, kHistogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

// How long calls took, in fixed buckets, updated from any thread with relaxed
// atomics: an Observe() is a few compares and two increments, no lock.
class LatencyHistogram {
 public:
  // Upper bounds, in seconds, of every bucket but +Inf: a trapped call's round
  // trip is microseconds; a call blocked in the driver can take seconds.
  static constexpr std::array<double, 14> kBounds = {5e-6, 1e-5,   2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
                                                     1e-3, 2.5e-3, 5e-3,   1e-2, 1e-1, 1,      10};
  static constexpr std::size_t kBuckets = kBounds.size() + 1;  // the last one is +Inf

  struct Snapshot {
    std::array<std::uint64_t, kBuckets> counts{};  // per bucket, not cumulative
    std::uint64_t sum_ns = 0;
    std::uint64_t count() const;
    Snapshot& operator+=(const Snapshot& other);
  };

  void Observe(std::chrono::nanoseconds latency);
  Snapshot Read() const;

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

class Exposition {
 public:
  // The family's # HELP and # TYPE lines; its samples follow.
  void Family(std::string_view name, std::string_view help, Type type);
  void Sample(std::string_view name, std::initializer_list<Label> labels, double value);
  // `name`_bucket (cumulative, with le), `name`_sum (seconds) and `name`_count.
  void Histogram(std::string_view name, std::initializer_list<Label> labels,
                 const LatencyHistogram::Snapshot& histogram);

  std::string Take() { return std::move(text_); }

 private:
  void Line(std::string_view name, std::initializer_list<Label> labels, const Label* extra, double value);

  std::string text_;
};

// A label value as the format writes it between quotes: \ " and newline
// escaped, and bytes that are not UTF-8 replaced (Prometheus rejects the whole
// scrape otherwise).
std::string EscapeLabelValue(std::string_view value);

}  // namespace nvgate::metrics
