#include "agent/oci_profile.h"

#include <linux/audit.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "supervisor/filter.h"
#include "supervisor/test_fakes.h"

namespace nvgate::agent {
namespace {

using Json = nlohmann::ordered_json;
using supervisor::TrapRules;
using supervisor::testing::Syscall;

TrapRules Rules() { return TrapRules::FromTable(*abi::TableForVersion("580.159.04")); }

OciProfileOptions Options(std::optional<Json> base, std::string listener_path = "/run/nvgate/agent.sock",
                          std::optional<std::string> metadata = std::nullopt) {
  return {.base = std::move(base), .listener_path = std::move(listener_path), .listener_metadata = std::move(metadata)};
}

// A Docker-shaped base: deny by default, one big unconditional allow list that
// includes ioctl, seccomp and ptrace (the shape that shadows NOTIFY rules).
Json DockerShapedBase() {
  return Json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [
      {"names": ["read", "write", "ioctl", "seccomp", "ptrace", "exit_group", "openat", "close"],
       "action": "SCMP_ACT_ALLOW"},
      {"names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "comment": "dropped: nvgate denies it"},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}
    ]})");
}

// What runc 1.1 does with a `linux.seccomp` object, written against
// libseccomp directly: each entry's conditions form one rule, unless an
// argument is compared more than once, then each condition is its own rule.
class LibseccompFilter {
 public:
  explicit LibseccompFilter(const Json& profile) {
    std::uint32_t default_action = Action(profile["defaultAction"], profile.value("defaultErrnoRet", EPERM));
    ctx_ = seccomp_init(default_action);
    if (!ctx_) throw std::runtime_error("seccomp_init failed");
    for (const Json& arch : profile.value("architectures", Json::array())) {
      if (arch != NativeOciArch()) throw std::runtime_error("unexpected architecture " + arch.dump());
    }
    for (const Json& rule : profile["syscalls"]) {
      std::uint32_t action = Action(rule["action"], rule.value("errnoRet", EPERM));
      // runc skips a rule whose action is the default one (libseccomp refuses it).
      if (action == default_action) continue;
      std::vector<scmp_arg_cmp> conditions;
      std::map<unsigned, int> per_index;
      for (const Json& a : rule.value("args", Json::array())) {
        conditions.push_back(Condition(a));
        ++per_index[a["index"].get<unsigned>()];
      }
      bool separate = std::any_of(per_index.begin(), per_index.end(), [](auto& p) { return p.second > 1; });
      for (const Json& name : rule["names"]) {
        int nr = seccomp_syscall_resolve_name(name.get<std::string>().c_str());
        if (nr == __NR_SCMP_ERROR) throw std::runtime_error("unknown syscall " + name.dump());
        if (separate) {
          for (const scmp_arg_cmp& c : conditions) Check(seccomp_rule_add_array(ctx_, action, nr, 1, &c));
        } else {
          Check(seccomp_rule_add_array(ctx_, action, nr, static_cast<unsigned>(conditions.size()),
                                       conditions.data()));
        }
      }
    }
  }
  ~LibseccompFilter() { seccomp_release(ctx_); }

  // The classic BPF program libseccomp would load, read back from a memfd.
  supervisor::Program Export() const {
    int fd = memfd_create("nvgate-profile-bpf", MFD_CLOEXEC);
    if (fd < 0) throw std::runtime_error("memfd_create failed");
    Check(seccomp_export_bpf(ctx_, fd));
    off_t size = lseek(fd, 0, SEEK_END);
    supervisor::Program program(static_cast<std::size_t>(size) / sizeof(sock_filter));
    ssize_t n = pread(fd, program.data(), static_cast<std::size_t>(size), 0);
    close(fd);
    if (n != size) throw std::runtime_error("short read of the exported BPF");
    return program;
  }

 private:
  static void Check(int rc) {
    if (rc != 0) throw std::runtime_error(fmt::format("libseccomp: {}", std::strerror(-rc)));
  }
  static std::uint32_t Action(const Json& name, int errno_ret) {
    std::string a = name.get<std::string>();
    if (a == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
    if (a == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
    if (a == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(static_cast<std::uint16_t>(errno_ret));
    if (a == "SCMP_ACT_KILL") return SCMP_ACT_KILL;
    throw std::runtime_error("action not handled here: " + a);
  }
  static scmp_arg_cmp Condition(const Json& a) {
    static const std::map<std::string, scmp_compare> kOps = {
        {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
    return scmp_arg_cmp{a["index"].get<unsigned>(), kOps.at(a["op"].get<std::string>()),
                        a["value"].get<std::uint64_t>(), a.value("valueTwo", std::uint64_t{0})};
  }

  scmp_filter_ctx ctx_;
};


std::uint32_t Evaluate(const supervisor::Program& program, const seccomp_data& d) {
  auto r = supervisor::EvaluateFilter(program, d);
  if (!r) throw std::runtime_error(r.error().message);
  return *r;
}

// Requests from every trap family, with other type and direction bits and
// garbage in the upper word, plus ordinary ioctls and random values.
std::vector<std::uint64_t> SampleRequests(const TrapRules& rules) {
  std::vector<std::uint64_t> out = {0x5401, 0x5413, 0x541b, 0x5451, 0x80086601, 0xc0045877, 0x4020940d,
                                    0x0, 0x7ff, 0x800, 0xffffffff, 0x30000001, 0x30000003};
  std::mt19937_64 rng(7);
  auto noisy = [&](std::uint32_t low) {
    out.push_back(low);
    out.push_back((rng() << 32) | low);
    out.push_back(low ^ (static_cast<std::uint32_t>(rng()) & 0xc000ff00));  // other type and direction
  };
  for (std::uint32_t v : rules.uvm_values) noisy(v);
  for (std::uint8_t nr : rules.frontend_nrs) noisy(0xc0004600u | (0x20u << 16) | nr);
  for (const TrapRules::Sized& s : rules.frontend_sized) {
    noisy((s.size << 16) | s.nr);
    noisy(((s.size + 1) << 16) | s.nr);
  }
  for (int i = 0; i < 4000; ++i) out.push_back(rng());
  return out;
}

TEST(OciProfileTest, PermissiveProfileHasListenerDenialsAndMaskedNotifyRules) {
  auto profile = BuildOciProfile(Rules(), Options(std::nullopt, "/run/nvgate.sock", "compute"));
  ASSERT_TRUE(profile) << profile.error().message;
  const Json& p = *profile;
  EXPECT_EQ(p["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(p["listenerPath"], "/run/nvgate.sock");
  EXPECT_EQ(p["listenerMetadata"], "compute");
  EXPECT_EQ(p["architectures"], Json::array({NativeOciArch()}));
  int notify = 0;
  bool ptrace_denied = false;
  bool io_uring_enosys = false;
  for (const Json& rule : p["syscalls"]) {
    if (rule["action"] == "SCMP_ACT_NOTIFY") {
      ++notify;
      EXPECT_EQ(rule["names"], Json::array({"ioctl"}));
      ASSERT_EQ(rule["args"].size(), 1u);
      EXPECT_EQ(rule["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
      EXPECT_EQ(rule["args"][0]["index"], 1);
      EXPECT_LE(rule["args"][0]["value"].get<std::uint64_t>(), 0xffffffffu) << "the mask must leave the upper word out";
    }
    for (const Json& n : rule["names"]) {
      if (n == "ptrace") ptrace_denied = rule["action"] == "SCMP_ACT_ERRNO" && rule["errnoRet"] == EPERM;
      if (n == "io_uring_setup") io_uring_enosys = rule["errnoRet"] == ENOSYS;
    }
  }
  TrapRules rules = Rules();
  EXPECT_EQ(notify, static_cast<int>(1 + rules.uvm_values.size() + rules.frontend_nrs.size() +
                                     rules.frontend_sized.size()));
  EXPECT_TRUE(ptrace_denied);
  EXPECT_TRUE(io_uring_enosys);
}

TEST(OciProfileTest, UnconditionalIoctlOfTheBaseBecomesAConditionalRule) {
  auto profile = BuildOciProfile(Rules(), Options(DockerShapedBase()));
  ASSERT_TRUE(profile) << profile.error().message;
  const Json& p = *profile;
  EXPECT_EQ(p["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(p["defaultErrnoRet"], 1);
  EXPECT_FALSE(p.contains("archMap"));
  bool ioctl_always = false;
  bool seccomp_always = false;
  for (const Json& rule : p["syscalls"]) {
    bool conditional = rule.contains("args") && !rule["args"].empty();
    for (const Json& n : rule["names"]) {
      if (rule["action"] != "SCMP_ACT_ALLOW") continue;
      EXPECT_NE(n, "ptrace");
      EXPECT_NE(n, "kcmp");
      if (n == "ioctl" || n == "seccomp") {
        ASSERT_TRUE(conditional) << rule.dump();
        EXPECT_EQ(rule["args"][0]["op"], n == "ioctl" ? "SCMP_CMP_GE" : "SCMP_CMP_MASKED_EQ");
        (n == "ioctl" ? ioctl_always : seccomp_always) = true;
      }
    }
  }
  EXPECT_TRUE(ioctl_always);
  EXPECT_TRUE(seccomp_always);
}

TEST(OciProfileTest, RefusesBasesItCannotMergeSafely) {
  Json conditional_ioctl = Json::parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21505, "op": "SCMP_CMP_EQ"}]}]})");
  auto r = BuildOciProfile(Rules(), Options(conditional_ioctl));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, testing::HasSubstr("conditions for ioctl"));

  Json with_listener = Json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x"})");
  EXPECT_FALSE(BuildOciProfile(Rules(), Options(with_listener)));
  EXPECT_FALSE(BuildOciProfile(Rules(), Options(std::nullopt, "relative.sock")));
  EXPECT_FALSE(BuildOciProfile(Rules(), Options(Json::parse(R"({"syscalls": []})"))));
}

// The profile as libseccomp compiles it traps exactly what the native filter
// traps: NOTIFY for the requests TrapRules::Traps names, whatever the upper
// word, and the base's action for every other request.
void ExpectCompiledProfileTrapsExactly(const Json& base_or_null, std::uint32_t other_ioctl_action) {
  TrapRules rules = Rules();
  OciProfileOptions options;
  if (!base_or_null.is_null()) options.base = base_or_null;
  auto profile = BuildOciProfile(rules, options);
  ASSERT_TRUE(profile) << profile.error().message;
  supervisor::Program program = LibseccompFilter(*profile).Export();
  int trapped = 0;
  for (std::uint64_t request : SampleRequests(rules)) {
    bool traps = rules.Traps(static_cast<std::uint32_t>(request));
    trapped += traps;
    std::uint32_t action = Evaluate(program, Syscall(__NR_ioctl, 3, request));
    ASSERT_EQ(action, traps ? SECCOMP_RET_USER_NOTIF : other_ioctl_action)
        << fmt::format("request {:#x}", request);
  }
  EXPECT_GT(trapped, 100);

  constexpr std::uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;
  EXPECT_EQ(Evaluate(program, Syscall(__NR_ptrace)), kEperm);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_process_vm_readv)), kEperm);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_pidfd_getfd)), kEperm);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_kcmp)), kEperm);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_userfaultfd)), kEperm);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_io_uring_setup)), SECCOMP_RET_ERRNO | ENOSYS);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER)), kEperm);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Evaluate(program, Syscall(__NR_read)), SECCOMP_RET_ALLOW);
  // Other ABIs never reach the ioctl rules: i386's ioctl is 54, x32's has bit 30.
  std::uint32_t i386 = Evaluate(program, Syscall(54, 3, 0x2a, AUDIT_ARCH_I386));
  EXPECT_NE(i386, SECCOMP_RET_ALLOW);
  EXPECT_NE(i386, SECCOMP_RET_USER_NOTIF);
  std::uint32_t x32 = Evaluate(program, Syscall(0x40000000 | 514, 3, 0x2a));
  EXPECT_NE(x32, SECCOMP_RET_ALLOW);
  EXPECT_NE(x32, SECCOMP_RET_USER_NOTIF);
}

TEST(OciProfileTest, CompiledPermissiveProfileTrapsExactlyTheTrapRules) {
  ExpectCompiledProfileTrapsExactly(nullptr, SECCOMP_RET_ALLOW);
}

TEST(OciProfileTest, CompiledDockerShapedProfileTrapsExactlyTheTrapRules) {
  ExpectCompiledProfileTrapsExactly(DockerShapedBase(), SECCOMP_RET_ALLOW);
}

TEST(OciProfileTest, WithoutTheRewriteTheBaseWouldShadowTheNotifyRules) {
  // The check above is not vacuous: the same rules next to a plain
  // unconditional ioctl allow trap nothing.
  auto profile = BuildOciProfile(Rules(), Options(std::nullopt));
  ASSERT_TRUE(profile);
  Json shadowed = *profile;
  shadowed["defaultAction"] = "SCMP_ACT_ERRNO";
  shadowed["syscalls"].push_back(Json{{"names", {"ioctl"}}, {"action", "SCMP_ACT_ALLOW"}});
  supervisor::Program program = LibseccompFilter(shadowed).Export();
  EXPECT_EQ(Evaluate(program, Syscall(__NR_ioctl, 3, 0xc020462a)), SECCOMP_RET_ALLOW);
}

}  // namespace
}  // namespace nvgate::agent
