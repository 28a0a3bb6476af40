#include "policy/policy.h"

#include <cerrno>

#include <fmt/format.h>

#include "abi/nv_structs.h"

namespace nvgate::policy {

Answer DenialAnswer(abi::Level level) {
  switch (level) {
    case abi::Level::kFrontend:
    case abi::Level::kUvm:
    case abi::Level::kVidHeap:
      return {.error = EINVAL, .status = 0};
    case abi::Level::kControl:
      return {.error = 0, .status = nv::kNvErrNotSupported};
    case abi::Level::kAlloc:
    case abi::Level::kAllocMemory:
      return {.error = 0, .status = nv::kNvErrInvalidClass};
  }
  return {.error = EINVAL, .status = 0};
}

Decision Decide(const abi::Table& table, abi::Level level, std::uint32_t key,
                caps::CapSet enabled) {
  const abi::Entry* entry = table.Find(level, key);
  Decision d{.verdict = Verdict::kAllow, .entry = entry, .answer = DenialAnswer(level)};
  if (entry == nullptr) {
    d.verdict = Verdict::kUnknown;
  } else if (entry->handler == abi::Handler::kDeny || entry->mask.Never()) {
    d.verdict = Verdict::kNeverAllowed;
  } else if (!entry->mask.Reachable(enabled)) {
    d.verdict = Verdict::kMissingCapability;
  } else {
    d.answer = {};
  }
  return d;
}

std::string Describe(const Decision& decision, abi::Level level, std::uint32_t key,
                     caps::CapSet enabled) {
  std::string what = fmt::format("{} {:#x}", abi::LevelName(level), key);
  std::string name = decision.entry ? decision.entry->name + " (" + what + ")" : what;
  switch (decision.verdict) {
    case Verdict::kAllow:
      return name + " allowed";
    case Verdict::kUnknown:
      return DeniedCapability(decision) + ": " + name + " denied; not in the driver ABI table, no capability allows it";
    case Verdict::kNeverAllowed:
      return DeniedCapability(decision) + ": " + name + " denied; no capability allows it";
    case Verdict::kMissingCapability: {
      const abi::Mask& mask = decision.entry->mask;
      caps::CapSet suggestion = enabled;
      for (int i = 0; i < caps::kCapabilityCount; ++i) {
        auto c = static_cast<caps::Capability>(i);
        if (mask.caps.Has(c)) {
          suggestion = suggestion | caps::CapSet{c};
          break;
        }
      }
      return DeniedCapability(decision) + ": " + name + " denied; enable with NVIDIA_DRIVER_CAPABILITIES=" +
             suggestion.ToString();
    }
  }
  return name;
}

std::string DeniedCapability(const Decision& decision) {
  switch (decision.verdict) {
    case Verdict::kAllow:
      return "";
    case Verdict::kUnknown:
      return "unknown";
    case Verdict::kNeverAllowed:
      return "never";
    case Verdict::kMissingCapability: {
      // The base tier only needs any one capability.
      const caps::CapSet& would = decision.entry->mask.caps;
      return would.empty() ? std::string("any") : would.ToString();
    }
  }
  return "";
}

std::string CallName(const Decision& decision, abi::Level level) {
  if (decision.entry != nullptr) return decision.entry->name;
  return "unknown " + std::string(abi::LevelName(level));
}

bool DenialLog::Report(const Denial& denial) {
  if (every_) every_(denial);
  {
    std::lock_guard lock(mu_);
    auto [at, first] = index_.try_emplace({denial.level, denial.key}, tallies_.size());
    if (first) {
      tallies_.push_back({.count = {.level = denial.level, .key = denial.key, .call = denial.call,
                                    .capability = denial.capability, .count = 0, .processes = 0},
                          .pids = {}});
    }
    Tally& tally = tallies_[at->second];
    ++tally.count.count;
    if (tally.pids.size() < kMaxCountedProcesses) tally.pids.insert(denial.pid);
    if (!first) return false;
  }
  first_(denial);
  return true;
}

std::vector<DenialCount> DenialLog::Summary() const {
  std::lock_guard lock(mu_);
  std::vector<DenialCount> out;
  for (const Tally& t : tallies_) {
    out.push_back(t.count);
    out.back().processes = t.pids.size();
  }
  return out;
}

}  // namespace nvgate::policy
