#include "trace/trace.h"

#include <array>
#include <ctime>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <ostream>
#include <utility>

#include <fmt/format.h>

#include "error/error.h"
#include "names/names.h"

namespace nvgate::trace {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::array<std::string_view, 5> kReasonNames = {
    "", "unknown", "never_allowed", "missing_capability", "proxy_check"};

// Indexed by whether the call was allowed.
constexpr std::array<std::string_view, 2> kDecisionNames = {"refused", "allowed"};

std::string BytesToHex(const std::vector<std::byte>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    auto v = std::to_integer<unsigned>(b);
    out += kDigits[v >> 4];
    out += kDigits[v & 0xf];
  }
  return out;
}

std::optional<std::vector<std::byte>> HexToBytes(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::byte> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::byte>(hi * 16 + lo));
  }
  return out;
}

// "0x2a" -> 42; the whole string must be a hexadecimal number.
std::optional<std::uint64_t> ParseHex(const Json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string& s = j.get_ref<const std::string&>();
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  std::size_t used = 0;
  try {
    std::uint64_t v = std::stoull(s.substr(2), &used, 16);
    if (used != s.size() - 2) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::uint32_t> ParseHex32(const Json& j) {
  auto v = ParseHex(j);
  if (!v || *v > 0xffffffffu) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

// An integer field that fits T. nlohmann's get<T>() would convert a float or
// an out-of-range number without a word (a float out of T's range is UB).
template <typename T>
std::optional<T> IntegerField(const Json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const Json& v = j[key];
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (!std::in_range<T>(u)) return std::nullopt;
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    auto i = v.get<std::int64_t>();
    if (!std::in_range<T>(i)) return std::nullopt;
    return static_cast<T>(i);
  }
  return std::nullopt;
}

std::int64_t Micros(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

OrderedJson CopiesToJson(const std::vector<proxy::MemoryCopy>& copies) {
  OrderedJson out = OrderedJson::array();
  for (const proxy::MemoryCopy& c : copies) {
    out.push_back({{"addr", fmt::format("{:#x}", c.addr)}, {"hex", BytesToHex(c.bytes)}});
  }
  return out;
}

Result<std::vector<proxy::MemoryCopy>> CopiesFromJson(const Json& j, const char* field) {
  std::vector<proxy::MemoryCopy> out;
  if (!j.is_array()) return tl::unexpected(Error::Malformed(std::string(field) + " is not an array"));
  for (const Json& item : j) {
    auto addr = item.is_object() && item.contains("addr") ? ParseHex(item["addr"]) : std::nullopt;
    auto bytes = item.is_object() && item.contains("hex") && item["hex"].is_string()
                     ? HexToBytes(item["hex"].get_ref<const std::string&>())
                     : std::nullopt;
    if (!addr || !bytes) {
      return tl::unexpected(Error::Malformed(std::string(field) + " has an entry without a hex addr and hex bytes"));
    }
    out.push_back({*addr, std::move(*bytes)});
  }
  return out;
}

// Escapes whose parameters name a further command the proxy decides on.
bool DispatchesAgain(abi::Handler handler) {
  return handler == abi::Handler::kRmControl || handler == abi::Handler::kRmAlloc ||
         handler == abi::Handler::kRmAllocMemory || handler == abi::Handler::kRmVidHeap;
}

std::string NameOf(const abi::Table& table, abi::Level level, std::uint32_t key) {
  const abi::Entry* e = table.Find(level, key);
  return e ? e->name : "";
}

}  // namespace

std::string_view ReasonName(Reason reason) { return names::NameOf(kReasonNames, reason); }

std::optional<Reason> ReasonFromName(std::string_view name) { return names::FromName<Reason>(kReasonNames, name); }

std::string_view DecisionName(bool allowed) { return names::NameOf(kDecisionNames, allowed); }

std::optional<bool> AllowedFromDecisionName(std::string_view name) {
  return names::FromName<bool>(kDecisionNames, name);
}

bool TracedCall::InnerKnown(const abi::Table& table) const {
  if (level != request_level || key != request_key) return true;
  const abi::Entry* request_entry = table.Find(request_level, request_key);
  return request_entry == nullptr || !DispatchesAgain(request_entry->handler);
}

TracedCall FromRecord(const proxy::CallRecord& record, const abi::Table& table,
                      std::chrono::steady_clock::time_point trace_start, bool with_params) {
  TracedCall c;
  c.start_us = Micros(record.started - trace_start);
  c.duration_us = Micros(record.duration);
  c.pid = record.pid;
  c.tid = record.tid;
  c.device = record.device;
  c.request = record.request;
  c.request_level = record.request_level;
  c.request_key = record.request_key;
  c.request_name = NameOf(table, c.request_level, c.request_key);
  c.size = record.size;

  // The innermost command: the last decision's row; a refusal's own level and
  // key where no row was found; else the request.
  const std::optional<policy::Decision>& d = record.decision;
  if (d && d->entry) {
    c.level = d->entry->level;
    c.key = d->entry->key;
  } else if (record.refusal) {
    c.level = record.refusal->level;
    c.key = record.refusal->key;
  } else {
    c.level = c.request_level;
    c.key = c.request_key;
  }
  const abi::Entry* entry = table.Find(c.level, c.key);
  c.name = entry ? entry->name : "";
  c.reached_by = entry ? entry->mask.ToString() : "";

  if (!d) {
    c.reason = Reason::kUnknown;
  } else if (!d->allowed()) {
    c.reason = d->verdict == policy::Verdict::kUnknown          ? Reason::kUnknown
               : d->verdict == policy::Verdict::kNeverAllowed ? Reason::kNeverAllowed
                                                              : Reason::kMissingCapability;
  } else if (record.refusal) {
    c.reason = Reason::kProxyCheck;
  }
  c.allowed = c.reason == Reason::kNone;
  if (record.refusal) c.message = record.refusal->message;

  c.driver_return = record.driver_return;
  c.driver_us = Micros(record.driver_time);
  c.value = record.value;
  c.error = record.error;
  c.status = record.status;
  if (with_params) {
    c.in = record.in;
    c.out = record.out;
  }
  return c;
}

OrderedJson HeaderToJson(const TraceHeader& h) {
  OrderedJson j = {{"format", kFormatName},
          {"version", h.version},
          {"nvgate", h.nvgate_version},
          {"driver", h.driver_version},
          {"backend", h.backend},
          {"caps", h.caps.ToString()},
          {"allowed_caps", h.allowed_caps.ToString()},
          {"with_params", h.with_params},
          {"command", h.command},
          {"started", h.started}};
  // Only where set: traces that record nvgate's own execution read as before.
  if (h.observe_only) j["observe_only"] = true;
  return j;
}

// The JSON library's message without its "[json.exception.out_of_range.403] " id.
std::string JsonProblem(const Json::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    if (std::size_t end = what.find("] "); end != std::string::npos) what.erase(0, end + 2);
  }
  return what;
}

Result<TraceHeader> HeaderFromJson(const Json& j) {
  auto err = [](const std::string& what) { return tl::unexpected(Error::Malformed("header: " + what)); };
  // value() would throw for a "format" that is not a string.
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string() || j["format"] != kFormatName) {
    return err("not an nvgate trace (the first line must have \"format\": \"nvgate-trace\")");
  }
  auto version = IntegerField<int>(j, "version");
  if (!version) return err("no version");
  TraceHeader h;
  h.version = *version;
  if (h.version != kFormatVersion) {
    return err("format version " + std::to_string(h.version) + " is not supported (this nvgate reads " +
               std::to_string(kFormatVersion) + ")");
  }
  try {
    h.nvgate_version = j.at("nvgate").get<std::string>();
    h.driver_version = j.at("driver").get<std::string>();
    h.backend = j.at("backend").get<std::string>();
    h.with_params = j.at("with_params").get<bool>();
    h.observe_only = j.value("observe_only", false);
    h.command = j.at("command").get<std::vector<std::string>>();
    h.started = j.at("started").get<std::string>();
    auto caps = caps::Resolve(j.at("caps").get<std::string>(), caps::CapSet::Everything());
    if (!caps) return err("caps: " + caps.error().message);
    h.caps = *caps;
    auto allowed = caps::ParseAllowed(j.at("allowed_caps").get<std::string>());
    if (!allowed) return err("allowed_caps: " + allowed.error().message);
    h.allowed_caps = *allowed;
  } catch (const Json::exception& e) {
    return err(JsonProblem(e));
  }
  return h;
}

OrderedJson CallToJson(const TracedCall& c) {
  OrderedJson j = {{"seq", c.seq},
            {"start_us", c.start_us},
            {"duration_us", c.duration_us},
            {"pid", c.pid},
            {"tid", c.tid},
            {"device", abi::DeviceKindName(c.device)},
            {"request", fmt::format("{:#x}", c.request)},
            {"level", abi::LevelName(c.level)},
            {"key", fmt::format("{:#x}", c.key)},
            {"name", c.name},
            {"reached_by", c.reached_by},
            {"size", c.size},
            {"decision", DecisionName(c.allowed)}};
  if (c.level != c.request_level || c.key != c.request_key) {
    j["via"] = {{"level", abi::LevelName(c.request_level)},
                {"key", fmt::format("{:#x}", c.request_key)},
                {"name", c.request_name}};
  }
  if (!c.allowed) {
    j["reason"] = ReasonName(c.reason);
    j["message"] = c.message;
  }
  if (c.driver_return) {
    j["driver_return"] = *c.driver_return;
    j["driver_us"] = c.driver_us;
  }
  j["return"] = c.value;
  j["errno"] = c.error;
  if (c.status) j["status"] = fmt::format("{:#x}", *c.status);
  if (!c.in.empty() || !c.out.empty()) {
    j["in"] = CopiesToJson(c.in);
    j["out"] = CopiesToJson(c.out);
  }
  return j;
}

Result<TracedCall> CallFromJson(const Json& j) {
  auto err = [](const std::string& what) { return tl::unexpected(Error::Malformed(what)); };
  if (!j.is_object()) return err("not a JSON object");
  TracedCall c;
  try {
    auto seq = IntegerField<std::uint64_t>(j, "seq");
    auto start_us = IntegerField<std::int64_t>(j, "start_us");
    auto duration_us = IntegerField<std::int64_t>(j, "duration_us");
    auto pid = IntegerField<int>(j, "pid");
    auto tid = IntegerField<int>(j, "tid");
    auto size = IntegerField<std::uint32_t>(j, "size");
    auto value = IntegerField<std::int64_t>(j, "return");
    auto error = IntegerField<int>(j, "errno");
    if (!seq || !start_us || !duration_us || !pid || !tid || !size || !value || !error) {
      return err("seq, start_us, duration_us, pid, tid, size, return or errno is missing or not an integer "
                 "in range");
    }
    c.seq = *seq;
    c.start_us = *start_us;
    c.duration_us = *duration_us;
    c.pid = *pid;
    c.tid = *tid;
    c.size = *size;
    c.value = *value;
    c.error = *error;
    auto device = abi::DeviceKindFromName(j.at("device").get<std::string>());
    if (!device) return err("unknown device " + j["device"].dump());
    c.device = *device;
    auto request = ParseHex32(j.at("request"));
    auto level = abi::LevelFromName(j.at("level").get<std::string>());
    auto key = ParseHex32(j.at("key"));
    if (!request || !level || !key) return err("request, level or key is malformed");
    c.request = *request;
    c.level = *level;
    c.key = *key;
    c.name = j.at("name").get<std::string>();
    c.reached_by = j.at("reached_by").get<std::string>();
    c.request_level = c.level;
    c.request_key = c.key;
    c.request_name = c.name;
    if (j.contains("via")) {
      const Json& via = j["via"];
      auto via_level = abi::LevelFromName(via.at("level").get<std::string>());
      auto via_key = ParseHex32(via.at("key"));
      if (!via_level || !via_key) return err("via is malformed");
      c.request_level = *via_level;
      c.request_key = *via_key;
      c.request_name = via.at("name").get<std::string>();
    }
    auto allowed = AllowedFromDecisionName(j.at("decision").get<std::string>());
    if (!allowed) return err("decision is " + j["decision"].dump());
    c.allowed = *allowed;
    if (!c.allowed) {
      auto reason = ReasonFromName(j.at("reason").get<std::string>());
      if (!reason) return err("unknown reason " + j["reason"].dump());
      c.reason = *reason;
      c.message = j.at("message").get<std::string>();
    }
    if (j.contains("driver_return")) {
      auto driver_return = IntegerField<int>(j, "driver_return");
      auto driver_us = IntegerField<std::int64_t>(j, "driver_us");
      if (!driver_return || !driver_us) return err("driver_return or driver_us is not an integer in range");
      c.driver_return = *driver_return;
      c.driver_us = *driver_us;
    }
    if (j.contains("status")) {
      auto status = ParseHex32(j["status"]);
      if (!status) return err("status is malformed");
      c.status = *status;
    }
    if (j.contains("in")) {
      auto in = CopiesFromJson(j["in"], "in");
      if (!in) return err(in.error().message);
      auto out = CopiesFromJson(j.at("out"), "out");
      if (!out) return err(out.error().message);
      c.in = std::move(*in);
      c.out = std::move(*out);
    }
  } catch (const Json::exception& e) {
    return err(JsonProblem(e));
  }
  return c;
}

Result<Trace> ReadTrace(std::istream& in) {
  Trace trace;
  std::string line;
  int number = 0;
  auto err = [&](const std::string& what) {
    return tl::unexpected(Error::Malformed("line " + std::to_string(number) + ": " + what));
  };
  bool have_header = false;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() && have_header && in.eof()) {
      trace.cut_short_line = number;  // no newline after it: the writer stopped mid-line
      break;
    }
    if (j.is_discarded()) return err("not valid JSON");
    if (!have_header) {
      auto header = HeaderFromJson(j);
      if (!header) return err(header.error().message);
      trace.header = std::move(*header);
      have_header = true;
      continue;
    }
    auto call = CallFromJson(j);
    if (!call) return err(call.error().message);
    trace.calls.push_back(std::move(*call));
  }
  if (!have_header) return tl::unexpected(Error::Malformed("empty trace: no header line"));
  return trace;
}

Result<Trace> ReadTraceFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return tl::unexpected(Error::Errno("cannot open " + path));
  auto trace = ReadTrace(in);
  if (!trace) return tl::unexpected(trace.error().Prefixed(path + ": "));
  return trace;
}

TraceWriter::TraceWriter(std::ostream& out, const TraceHeader& header, const abi::Table& table)
    : out_(out), table_(table), with_params_(header.with_params) {
  out_ << HeaderToJson(header).dump() << '\n' << std::flush;
}

void TraceWriter::Observe(const proxy::CallRecord& record) {
  TracedCall call = FromRecord(record, table_, start_, with_params_);
  std::lock_guard lock(mu_);
  call.seq = next_seq_++;
  out_ << CallToJson(call).dump() << '\n' << std::flush;
}

std::uint64_t TraceWriter::calls_written() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

void CallCollector::Observe(const proxy::CallRecord& record) {
  TracedCall call = FromRecord(record, table_, start_, false);
  std::lock_guard lock(mu_);
  call.seq = calls_.size();
  calls_.push_back(std::move(call));
}

std::vector<TracedCall> CallCollector::Calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

}  // namespace nvgate::trace
