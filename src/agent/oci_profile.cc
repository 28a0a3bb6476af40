#include "agent/oci_profile.h"

#include <errno.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace nvgate::agent {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::uint32_t kLow32 = 0xffffffff;
constexpr std::uint32_t kIocNrMask = 0xff;
constexpr std::uint32_t kIocTypeAndNrMask = 0xffff;
constexpr std::uint32_t kIocSizeAndNrMask = (0x3fffu << 16) | kIocNrMask;
constexpr std::uint32_t kFrontendType = 'F';
// seccomp(2) flags argument bit that asks for a notification listener.
constexpr std::uint32_t kNewListenerFlag = 8;  // SECCOMP_FILTER_FLAG_NEW_LISTENER

// The native filter's denials (supervisor/filter.cc), by OCI name.
constexpr std::array<std::string_view, 6> kDeniedEperm = {"ptrace", "process_vm_readv", "process_vm_writev",
                                                          "pidfd_getfd", "kcmp", "userfaultfd"};
constexpr std::array<std::string_view, 3> kDeniedEnosys = {"io_uring_setup", "io_uring_enter",
                                                           "io_uring_register"};
// Syscalls whose base rules must not be unconditional: our conditional rules
// for them would be dropped.
constexpr std::array<std::string_view, 2> kConditional = {"ioctl", "seccomp"};

template <std::size_t N>
bool Contains(const std::array<std::string_view, N>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// An ioctl rule that matches when the low 32 bits of the request, masked, equal
// `value`; the mask leaves the upper word out, as the kernel does.
Json MaskedRequestRule(std::string_view action, std::uint32_t mask, std::uint32_t value) {
  return Json{{"names", {"ioctl"}},
              {"action", action},
              {"args", Json::array({Json{{"index", 1}, {"value", mask}, {"valueTwo", value},
                                         {"op", "SCMP_CMP_MASKED_EQ"}}})}};
}

// Requests below `bound`, as masked equalities: one per set bit of the bound
// (the bits above it equal to the bound's, that bit clear, the rest free).
std::vector<std::pair<std::uint32_t, std::uint32_t>> BelowAsMasks(std::uint32_t bound) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (int bit = 31; bit >= 0; --bit) {
    std::uint32_t b = 1u << bit;
    if (!(bound & b)) continue;
    std::uint32_t mask = ~(b - 1) & kLow32;
    out.emplace_back(mask, bound & mask & ~b);
  }
  return out;
}

void AppendTrapRules(const supervisor::TrapRules& rules, Json& syscalls) {
  constexpr std::string_view kNotify = "SCMP_ACT_NOTIFY";
  for (auto [mask, value] : BelowAsMasks(rules.uvm_below)) syscalls.push_back(MaskedRequestRule(kNotify, mask, value));
  for (std::uint32_t v : rules.uvm_values) syscalls.push_back(MaskedRequestRule(kNotify, kLow32, v));
  for (std::uint8_t nr : rules.frontend_nrs) {
    syscalls.push_back(MaskedRequestRule(kNotify, kIocTypeAndNrMask, (kFrontendType << 8) | nr));
  }
  for (const supervisor::TrapRules::Sized& s : rules.frontend_sized) {
    syscalls.push_back(s.size == 0 ? MaskedRequestRule(kNotify, kIocNrMask, s.nr)
                                   : MaskedRequestRule(kNotify, kIocSizeAndNrMask, (s.size << 16) | s.nr));
  }
}

void AppendDenials(Json& syscalls) {
  Json eperm = Json::array();
  for (std::string_view n : kDeniedEperm) eperm.push_back(n);
  Json enosys = Json::array();
  for (std::string_view n : kDeniedEnosys) enosys.push_back(n);
  syscalls.push_back(Json{{"names", eperm}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", EPERM}});
  syscalls.push_back(Json{{"names", enosys}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  // Only a call that asks for a listener: the other operations take no flags.
  syscalls.push_back(Json{{"names", {"seccomp"}},
                          {"action", "SCMP_ACT_ERRNO"},
                          {"errnoRet", EPERM},
                          {"args", Json::array({Json{{"index", 1}, {"value", kNewListenerFlag},
                                                     {"valueTwo", kNewListenerFlag},
                                                     {"op", "SCMP_CMP_MASKED_EQ"}}})}});
}

bool HasConditions(const Json& rule) {
  auto args = rule.find("args");
  return args != rule.end() && args->is_array() && !args->empty();
}

// Filters the base's rules into `kept`; unconditional rules for ioctl and
// seccomp come back as conditional `always` rules with the same action.
Result<void> MergeBaseRules(const Json& base_rules, Json& kept, Json& always) {
  if (!base_rules.is_array()) return tl::unexpected(Error::Malformed("base profile: \"syscalls\" is not an array"));
  for (std::size_t i = 0; i < base_rules.size(); ++i) {
    const Json& rule = base_rules[i];
    auto names = rule.find("names");
    if (!rule.is_object() || names == rule.end() || !names->is_array()) {
      return tl::unexpected(Error::Malformed(fmt::format("base profile: syscalls[{}] has no \"names\" list", i)));
    }
    Json remaining = Json::array();
    for (const Json& name_json : *names) {
      if (!name_json.is_string()) {
        return tl::unexpected(Error::Malformed(fmt::format("base profile: syscalls[{}]: a name is not a string", i)));
      }
      std::string name = name_json.get<std::string>();
      // nvgate's denials replace whatever the base says about these.
      if (Contains(kDeniedEperm, name) || Contains(kDeniedEnosys, name)) continue;
      if (!Contains(kConditional, name)) {
        remaining.push_back(name);
        continue;
      }
      if (HasConditions(rule)) {
        return tl::unexpected(Error::Malformed(
            fmt::format("base profile: syscalls[{}] has argument conditions for {}; nvgate cannot merge them with its "
                        "own rules for {} without risking that they shadow the NOTIFY rules; remove them from the base",
                        i, name, name)));
      }
      Json replacement = rule;
      replacement["names"] = Json::array({name});
      // ioctl: every request (the NOTIFY rules come first, see the header).
      // seccomp: only calls without the listener flag, so that the denial
      // holds even where the runtime drops it for equalling the default action.
      replacement["args"] =
          name == "ioctl"
              ? Json::array({Json{{"index", 1}, {"value", 0}, {"op", "SCMP_CMP_GE"}}})
              : Json::array({Json{{"index", 1}, {"value", kNewListenerFlag}, {"valueTwo", 0},
                                  {"op", "SCMP_CMP_MASKED_EQ"}}});
      always.push_back(std::move(replacement));
    }
    if (remaining.empty()) continue;
    Json copy = rule;
    copy["names"] = std::move(remaining);
    kept.push_back(std::move(copy));
  }
  return {};
}

}  // namespace

const char* NativeOciArch() {
#if defined(__x86_64__)
  return "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
  return "SCMP_ARCH_AARCH64";
#else
#error "nvgate knows x86_64 and aarch64 only"
#endif
}

Result<nlohmann::ordered_json> BuildOciProfile(const supervisor::TrapRules& rules, const OciProfileOptions& options) {
  if (options.listener_path.empty() || options.listener_path.front() != '/') {
    return tl::unexpected(Error::Usage("the listener path must be absolute"));
  }
  Json base = options.base.value_or(Json{{"defaultAction", "SCMP_ACT_ALLOW"}});
  if (!base.is_object()) return tl::unexpected(Error::Malformed("base profile: not a JSON object"));
  if (!base.contains("defaultAction")) return tl::unexpected(Error::Malformed("base profile: no \"defaultAction\""));
  if (base.contains("listenerPath")) {
    return tl::unexpected(
        Error::Malformed("base profile: already has a \"listenerPath\"; a container has one listener"));
  }
  std::string default_action = base["defaultAction"].is_string() ? base["defaultAction"].get<std::string>() : "";
  if (default_action == "SCMP_ACT_NOTIFY") {
    return tl::unexpected(
        Error::Malformed("base profile: a NOTIFY default action would send every syscall to the agent"));
  }

  Json profile = Json::object();
  profile["defaultAction"] = base["defaultAction"];
  if (base.contains("defaultErrnoRet")) profile["defaultErrnoRet"] = base["defaultErrnoRet"];
  profile["architectures"] = Json::array({NativeOciArch()});
  profile["listenerPath"] = options.listener_path;
  if (options.listener_metadata) profile["listenerMetadata"] = *options.listener_metadata;
  for (auto it = base.begin(); it != base.end(); ++it) {
    // Docker's archMap would bring the other ABIs back.
    if (it.key() == "syscalls" || it.key() == "archMap" || profile.contains(it.key())) continue;
    profile[it.key()] = it.value();
  }

  Json syscalls = Json::array();
  AppendDenials(syscalls);
  AppendTrapRules(rules, syscalls);
  Json always = Json::array();
  if (base.contains("syscalls")) {
    if (auto merged = MergeBaseRules(base["syscalls"], syscalls, always); !merged) {
      return tl::unexpected(merged.error());
    }
  }
  for (Json& rule : always) syscalls.push_back(std::move(rule));
  profile["syscalls"] = std::move(syscalls);
  return profile;
}

}  // namespace nvgate::agent
