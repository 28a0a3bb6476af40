// Traces: records to lines and back, the header's version check, and the
// analyses (replay, learn, summary, audit) on the real 580 table.
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trace/analysis.h"
#include "trace/trace.h"

namespace nvgate::trace {
namespace {

using caps::Capability;
using ::testing::HasSubstr;

const abi::Table& Table() { return *abi::TableForVersion("580.159.04"); }

constexpr std::uint32_t kEscRmControl = 0x2a;
constexpr std::uint32_t kEscRmAlloc = 0x2b;
constexpr std::uint32_t kEscCardInfo = 0xc8;
constexpr std::uint32_t kGrGetInfo = 0x20801201;  // compute,utility
constexpr std::uint32_t kComputeClass = 0xcbc0;   // HOPPER_COMPUTE_A: compute
constexpr std::uint32_t kVideoDecoder = 0xb8b0;   // video
constexpr std::uint32_t kHopper3d = 0xcb97;       // graphics

// A record as the proxy fills it for a call on nvidiactl under `enabled`:
// the escape decided, then (for control and alloc) the inner command.
proxy::CallRecord Record(caps::CapSet enabled, std::uint32_t escape,
                         std::optional<std::pair<abi::Level, std::uint32_t>> inner = std::nullopt) {
  proxy::CallRecord r;
  r.pid = 10;
  r.tid = 11;
  r.device = abi::DeviceKind::kCtl;
  r.request = 0xc0204600u | escape;
  r.request_level = abi::Level::kFrontend;
  r.request_key = escape;
  r.size = 32;
  r.decision = policy::Decide(Table(), abi::Level::kFrontend, escape, enabled);
  auto level = abi::Level::kFrontend;
  std::uint32_t key = escape;
  if (r.decision->allowed() && inner) {
    std::tie(level, key) = *inner;
    r.decision = policy::Decide(Table(), level, key, enabled);
  }
  if (!r.decision->allowed()) {
    r.refusal = proxy::Refusal{.level = level, .key = key,
                               .message = policy::Describe(*r.decision, level, key, enabled)};
  } else {
    r.driver_return = 0;
    r.driver_time = std::chrono::microseconds(3);
  }
  r.status = r.decision->allowed() ? 0u : r.decision->answer.status;
  r.started = std::chrono::steady_clock::now();
  r.duration = std::chrono::microseconds(5);
  return r;
}

// The header of a trace of command "x" under compute, compute being the bound.
TraceHeader ComputeHeader(bool with_params = false) {
  return {.version = kFormatVersion, .nvgate_version = "0.1.0", .driver_version = "580.159.04", .backend = "sim",
          .caps = {Capability::kCompute}, .allowed_caps = {Capability::kCompute}, .with_params = with_params,
          .command = {"x"}, .started = UtcNow()};
}

TracedCall Traced(const proxy::CallRecord& r) { return FromRecord(r, Table(), r.started, true); }

TracedCall RoundTrip(const TracedCall& c) {
  auto back = CallFromJson(nlohmann::json::parse(CallToJson(c).dump()));
  EXPECT_TRUE(back) << back.error().message;
  return *back;
}

TEST(TraceFormat, CallLineNamesLevelKeyDecisionAndStatus) {
  caps::CapSet compute{Capability::kCompute};
  TracedCall c = Traced(Record(compute, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}}));
  nlohmann::ordered_json j = CallToJson(c);
  EXPECT_EQ(j["level"], "alloc");
  EXPECT_EQ(j["key"], "0xb8b0");
  EXPECT_EQ(j["name"], "NVB8B0_VIDEO_DECODER");
  EXPECT_EQ(j["reached_by"], "video");
  EXPECT_EQ(j["via"]["name"], "NV_ESC_RM_ALLOC");
  EXPECT_EQ(j["device"], "nvidiactl");
  EXPECT_EQ(j["pid"], 10);
  EXPECT_EQ(j["tid"], 11);
  EXPECT_EQ(j["decision"], "refused");
  EXPECT_EQ(j["reason"], "missing_capability");
  EXPECT_THAT(j["message"].get<std::string>(), HasSubstr("enable with NVIDIA_DRIVER_CAPABILITIES"));
  EXPECT_EQ(j["status"], "0x22");
  EXPECT_FALSE(j.contains("driver_return")) << "never reached the driver";

  TracedCall back = RoundTrip(c);
  EXPECT_EQ(back.request_level, abi::Level::kFrontend);
  EXPECT_EQ(back.request_key, kEscRmAlloc);
  EXPECT_EQ(back.level, abi::Level::kAlloc);
  EXPECT_EQ(back.key, kVideoDecoder);
  EXPECT_EQ(back.reason, Reason::kMissingCapability);
  EXPECT_EQ(back.status, 0x22u);
}

TEST(TraceFormat, ParameterBytesRoundTripAsHex) {
  proxy::CallRecord r = Record({Capability::kCompute}, kEscCardInfo);
  r.in = {{0x7000, {std::byte{0x01}, std::byte{0xab}}}};
  r.out = {{0x7000, {std::byte{0xff}}}};
  TracedCall c = Traced(r);
  nlohmann::ordered_json j = CallToJson(c);
  EXPECT_EQ(j["in"][0]["addr"], "0x7000");
  EXPECT_EQ(j["in"][0]["hex"], "01ab");
  TracedCall back = RoundTrip(c);
  ASSERT_EQ(back.out.size(), 1u);
  EXPECT_EQ(back.out[0].bytes, std::vector<std::byte>{std::byte{0xff}});
  EXPECT_TRUE(back.driver_return);
}

TEST(TraceFormat, HeaderIsVersionedAndChecked) {
  TraceHeader h{.version = kFormatVersion, .nvgate_version = "0.1.0", .driver_version = "580.159.04",
                .backend = "sim", .caps = {Capability::kCompute, Capability::kUtility},
                .allowed_caps = caps::CapSet::AllUnprivileged(), .with_params = false,
                .command = {"nvprobe"}, .started = UtcNow()};
  nlohmann::json j = nlohmann::json::parse(HeaderToJson(h).dump());
  EXPECT_EQ(j["format"], "nvgate-trace");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["caps"], "compute,utility");
  auto back = HeaderFromJson(j);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->caps, h.caps);
  EXPECT_EQ(back->allowed_caps, h.allowed_caps);

  j["version"] = 2;
  EXPECT_THAT(HeaderFromJson(j).error().message, HasSubstr("format version 2 is not supported"));
}

TEST(TraceFormat, ReadErrorsNameTheLine) {
  std::istringstream not_a_trace("{\"seq\": 0}\n");
  EXPECT_THAT(ReadTrace(not_a_trace).error().message, HasSubstr("line 1: header: not an nvgate trace"));
  // Found by fuzz_trace: a format that is not a string made the reader throw.
  std::istringstream format_not_a_string("{\"format\": 4}\n");
  EXPECT_THAT(ReadTrace(format_not_a_string).error().message, HasSubstr("line 1: header: not an nvgate trace"));
  // Found by fuzz_trace too: numbers that are floats, or out of range, were
  // converted unchecked.
  std::ostringstream header_only;
  TraceWriter(header_only, ComputeHeader(), Table());
  for (const char* bad : {"1e90", "2.5", "99999999999", "\"7\""}) {
    nlohmann::json call = CallToJson(Traced(Record({Capability::kCompute}, kEscCardInfo)));
    call["pid"] = nlohmann::json::parse(bad);
    std::istringstream in(header_only.str() + call.dump() + "\n");
    EXPECT_THAT(ReadTrace(in).error().message,
                HasSubstr("line 2: seq, start_us, duration_us, pid, tid, size, return or "
                          "errno is missing or not an integer in range"))
        << bad;
  }

  std::ostringstream out;
  TraceWriter writer(out, ComputeHeader(), Table());
  writer.Observe(Record({Capability::kCompute}, kEscCardInfo));
  std::istringstream broken(out.str() + "{not json\n");
  EXPECT_THAT(ReadTrace(broken).error().message, HasSubstr("line 3: not valid JSON"));

  // The JSON library's own error ids stay out of the message.
  std::istringstream no_fields("{\"format\": \"nvgate-trace\", \"version\": 1}\n");
  std::string error = ReadTrace(no_fields).error().message;
  EXPECT_THAT(error, HasSubstr("line 1: header: key 'nvgate' not found"));
  EXPECT_THAT(error, ::testing::Not(HasSubstr("json.exception")));
}

// A recording killed mid-write ends in a line without its newline: the calls
// before it are read, and the line is named. The same line inside the file, or
// with its newline, is an error.
TEST(TraceFormat, ATraceCutShortIsReadUpToItsLastWholeLine) {
  std::ostringstream out;
  TraceWriter writer(out, ComputeHeader(), Table());
  writer.Observe(Record({Capability::kCompute}, kEscCardInfo));
  writer.Observe(Record({Capability::kCompute}, kEscCardInfo));
  const std::string whole = out.str();
  const std::string cut = whole.substr(0, whole.size() - 20);
  std::istringstream cut_short(cut);
  auto trace = ReadTrace(cut_short);
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_EQ(trace->calls.size(), 1u);
  EXPECT_EQ(trace->cut_short_line, 3);

  std::istringstream whole_trace(whole);
  EXPECT_EQ(ReadTrace(whole_trace)->cut_short_line, 0);
  std::istringstream cut_with_newline(cut + "\n");
  EXPECT_THAT(ReadTrace(cut_with_newline).error().message, HasSubstr("line 3: not valid JSON"));
  std::istringstream cut_inside(cut + "\n" + whole.substr(whole.find('\n') + 1));
  EXPECT_FALSE(ReadTrace(cut_inside));
}

TEST(TraceWriter, WritesTheHeaderThenOneLinePerCallInOrder) {
  std::ostringstream out;
  caps::CapSet compute{Capability::kCompute};
  TraceWriter writer(out, ComputeHeader(/*with_params=*/true), Table());
  EXPECT_TRUE(writer.WantsParams());
  writer.Observe(Record(compute, kEscCardInfo));
  writer.Observe(Record(compute, kEscRmControl, {{abi::Level::kControl, kGrGetInfo}}));
  EXPECT_EQ(writer.calls_written(), 2u);
  std::istringstream in(out.str());
  auto trace = ReadTrace(in);
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_TRUE(trace->header.with_params);
  ASSERT_EQ(trace->calls.size(), 2u);
  EXPECT_EQ(trace->calls[0].seq, 0u);
  EXPECT_EQ(trace->calls[1].seq, 1u);
  EXPECT_EQ(trace->calls[1].name, "NV2080_CTRL_CMD_GR_GET_INFO");
  EXPECT_TRUE(trace->calls[1].allowed);
}

TEST(Replay, SameSetGivesSameDecisionsOtherSetChangesThem) {
  caps::CapSet compute{Capability::kCompute};
  std::vector<TracedCall> calls = {
      Traced(Record(compute, kEscCardInfo)),
      Traced(Record(compute, kEscRmControl, {{abi::Level::kControl, kGrGetInfo}})),
      Traced(Record(compute, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}})),
  };
  ReplayResult same = Replay(Table(), compute, calls);
  EXPECT_EQ(same.changed, 0u);
  EXPECT_EQ(same.allowed, 2u);
  EXPECT_EQ(same.refused, 1u);

  ReplayResult video = Replay(Table(), {Capability::kVideo}, calls);
  EXPECT_EQ(video.changed, 2u) << "GR_GET_INFO refused, the decoder allowed";
  EXPECT_FALSE(video.calls[1].now.allowed);
  EXPECT_EQ(video.calls[1].now.reason, Reason::kMissingCapability);
  EXPECT_THAT(video.calls[1].now.message, HasSubstr("NV2080_CTRL_CMD_GR_GET_INFO"));
  EXPECT_TRUE(video.calls[2].now.allowed);
}

TEST(Replay, InnerCommandNeverReadIsUndetermined) {
  // RM_CONTROL refused by the proxy before the cmd was read (foreign client).
  proxy::CallRecord r = Record({Capability::kCompute}, kEscRmControl);
  r.refusal = proxy::Refusal{.level = abi::Level::kFrontend, .key = kEscRmControl, .message = "client: ..."};
  TracedCall c = Traced(r);
  EXPECT_EQ(c.reason, Reason::kProxyCheck);
  EXPECT_FALSE(c.InnerKnown(Table()));
  Evaluation e = Evaluate(Table(), {Capability::kVideo}, c);
  EXPECT_FALSE(e.inner_known);
  EXPECT_TRUE(PolicyAllowed(c));
}

TEST(Replay, NodesWithoutATableAreUnknown) {
  TracedCall c = Traced(Record({Capability::kCompute}, kEscCardInfo));
  c.device = abi::DeviceKind::kModeset;
  Evaluation e = Evaluate(Table(), caps::CapSet::Everything(), c);
  EXPECT_FALSE(e.allowed);
  EXPECT_EQ(e.reason, Reason::kUnknown);
}

TEST(Learn, SmallestSetAndWhoNeedsEachCapability) {
  caps::CapSet all = caps::CapSet::AllUnprivileged();
  std::vector<TracedCall> calls = {
      Traced(Record(all, kEscCardInfo)),
      Traced(Record(all, kEscRmControl, {{abi::Level::kControl, kGrGetInfo}})),
      Traced(Record(all, kEscRmAlloc, {{abi::Level::kAlloc, kComputeClass}})),
      Traced(Record(all, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}})),
      Traced(Record(all, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}})),
      Traced(Record(all, kEscRmControl, {{abi::Level::kControl, 0x12345678}})),
  };
  LearnResult r = Learn(Table(), all, calls);
  EXPECT_EQ(r.minimal.ToString(), "compute,video");
  // GR_GET_INFO is reached by compute or utility: within compute,video only compute.
  ASSERT_EQ(r.needed_by[Capability::kCompute].size(), 2u);
  EXPECT_EQ(r.needed_by[Capability::kCompute][0].name, "NV2080_CTRL_CMD_GR_GET_INFO");
  EXPECT_EQ(r.needed_by[Capability::kCompute][1].name, "HOPPER_COMPUTE_A");
  ASSERT_EQ(r.needed_by[Capability::kVideo].size(), 1u);
  EXPECT_EQ(r.needed_by[Capability::kVideo][0].calls, 2u);
  ASSERT_EQ(r.shared.size(), 1u);
  EXPECT_EQ(r.shared[0].name, "NV_ESC_CARD_INFO") << "base tier";
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_EQ(r.refused[0].key, 0x12345678u);
  EXPECT_EQ(LearnToJson(r, all)["caps"], "compute,video");
  EXPECT_THAT(LearnToText(r, all), HasSubstr("NVIDIA_DRIVER_CAPABILITIES=compute,video"));
}

TEST(Learn, ABoundWithoutACapabilityReportsItsCallsAsRefused) {
  caps::CapSet bound{Capability::kCompute, Capability::kUtility};
  std::vector<TracedCall> calls = {
      Traced(Record(bound, kEscRmAlloc, {{abi::Level::kAlloc, kComputeClass}})),
      Traced(Record(caps::CapSet::AllUnprivileged(), kEscRmAlloc, {{abi::Level::kAlloc, kHopper3d}})),
  };
  LearnResult r = Learn(Table(), bound, calls);
  EXPECT_EQ(r.minimal.ToString(), "compute");
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_EQ(r.refused[0].name, "HOPPER_A");
}

TEST(Summary, CountsAndTimeByLevelAndKey) {
  caps::CapSet compute{Capability::kCompute};
  std::vector<TracedCall> calls = {
      Traced(Record(compute, kEscCardInfo)),
      Traced(Record(compute, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}})),
      Traced(Record(compute, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}})),
  };
  Summary s = Summarize(calls);
  EXPECT_EQ(s.calls, 3u);
  EXPECT_EQ(s.refused, 2u);
  EXPECT_EQ(s.total_us, 15);
  ASSERT_EQ(s.rows.size(), 2u);
  EXPECT_EQ(s.rows[0].level, abi::Level::kFrontend);
  EXPECT_EQ(s.rows[1].calls, 2u);
  EXPECT_EQ(s.by_level[abi::Level::kAlloc].refused, 2u);
  EXPECT_EQ(s.by_level[abi::Level::kFrontend].driver_us, 3);
}

TEST(Audit, ReportsWhatTheRequestedSetWouldRefuseOnce) {
  std::vector<std::string> lines;
  policy::DenialLog log([&](const policy::Denial& d) { lines.push_back(d.line); });
  AuditObserver audit(Table(), {Capability::kCompute}, log);
  caps::CapSet bound = caps::CapSet::AllUnprivileged();
  audit.Observe(Record(bound, kEscRmAlloc, {{abi::Level::kAlloc, kComputeClass}}));
  audit.Observe(Record(bound, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}}));
  audit.Observe(Record(bound, kEscRmAlloc, {{abi::Level::kAlloc, kVideoDecoder}}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("pid 10: video: NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied"));
}

}  // namespace
}  // namespace nvgate::trace
