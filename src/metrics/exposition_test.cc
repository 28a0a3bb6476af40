#include "metrics/exposition.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nvgate::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(ExpositionTest, FamilyHeaderAndSamples) {
  Exposition out;
  out.Family("nvgate_calls_total", "NVIDIA calls answered.", Type::kCounter);
  out.Sample("nvgate_calls_total", {{"container", "ctr1"}, {"decision", "denied"}}, 3);
  out.Family("nvgate_active_containers", "Containers supervised now.", Type::kGauge);
  out.Sample("nvgate_active_containers", {}, 0);
  EXPECT_EQ(out.Take(),
            "# HELP nvgate_calls_total NVIDIA calls answered.\n"
            "# TYPE nvgate_calls_total counter\n"
            "nvgate_calls_total{container=\"ctr1\",decision=\"denied\"} 3\n"
            "# HELP nvgate_active_containers Containers supervised now.\n"
            "# TYPE nvgate_active_containers gauge\n"
            "nvgate_active_containers 0\n");
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)" "\nd"), R"(a\\b\"c\nd)");
  // Multi-byte UTF-8 passes; bytes that are not UTF-8 become U+FFFD, so that
  // one odd container id cannot make Prometheus reject the whole scrape.
  EXPECT_EQ(EscapeLabelValue("gpu-\xc3\xa9t\xc3\xa9"), "gpu-\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(EscapeLabelValue("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(EscapeLabelValue("\xc3"), "\xef\xbf\xbd");              // truncated
  EXPECT_EQ(EscapeLabelValue("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(EscapeLabelValue("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate

  Exposition out;
  out.Family("x", "a \\ and a\nnewline", Type::kGauge);
  out.Sample("x", {{"id", "q\"uote"}}, 1.5);
  EXPECT_EQ(out.Take(),
            "# HELP x a \\\\ and a\\nnewline\n"
            "# TYPE x gauge\n"
            "x{id=\"q\\\"uote\"} 1.5\n");
}

TEST(ExpositionTest, SpecialValues) {
  Exposition out;
  out.Sample("x", {}, std::numeric_limits<double>::infinity());
  out.Sample("x", {}, -std::numeric_limits<double>::infinity());
  out.Sample("x", {}, std::numeric_limits<double>::quiet_NaN());
  out.Sample("x", {}, 12345678);
  EXPECT_EQ(out.Take(), "x +Inf\nx -Inf\nx NaN\nx 12345678\n");
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  LatencyHistogram h;
  h.Observe(microseconds(3));     // <= 5e-06
  h.Observe(microseconds(5));     // <= 5e-06: bounds are inclusive
  h.Observe(microseconds(40));    // <= 5e-05
  h.Observe(milliseconds(20000)); // +Inf
  LatencyHistogram::Snapshot s = h.Read();
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.sum_ns, 20000048000u);

  Exposition out;
  out.Family("lat_seconds", "Latency.", Type::kHistogram);
  out.Histogram("lat_seconds", {{"container", "c"}}, s);
  std::string text = out.Take();
  EXPECT_THAT(text, HasSubstr("# TYPE lat_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{container=\"c\",le=\"5e-06\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{container=\"c\",le=\"2.5e-05\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{container=\"c\",le=\"5e-05\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{container=\"c\",le=\"10\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{container=\"c\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_sum{container=\"c\"} 20.000048\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_count{container=\"c\"} 4\n"));
  // One line per bound, +Inf, sum and count.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2 + LatencyHistogram::kBuckets + 2);
}

TEST(ExpositionTest, SnapshotsAdd) {
  LatencyHistogram a;
  LatencyHistogram b;
  a.Observe(microseconds(1));
  b.Observe(microseconds(1));
  b.Observe(milliseconds(2));
  LatencyHistogram::Snapshot sum = a.Read();
  sum += b.Read();
  EXPECT_EQ(sum.count(), 3u);
  EXPECT_EQ(sum.counts[0], 2u);
  EXPECT_EQ(sum.sum_ns, 2002000u);
}

}  // namespace
}  // namespace nvgate::metrics
