// The OCI seccomp profile (config.json `linux.seccomp`) that hands a
// container's NVIDIA ioctls to `nvgate agent`.
//
//   auto rules = supervisor::TrapRules::FromTable(*table);
//   auto profile = agent::BuildOciProfile(rules, {.listener_path = "/run/nvgate/agent.sock"});
//   if (!profile) die(profile.error());
//   std::cout << profile->dump(2);
//
// The profile holds, before any rule of the base profile:
//   - the workload-side denials of the native filter (docs/security.md, invariant 7):
//     ptrace, process_vm_readv/writev, pidfd_getfd, kcmp, userfaultfd -> EPERM;
//     io_uring_* -> ENOSYS; seccomp() asking for a new listener -> EPERM;
//   - SCMP_ACT_NOTIFY for every ioctl request TrapRules::Traps, each family one
//     rule with a single SCMP_CMP_MASKED_EQ on the low 32 bits of the request;
// and `listenerPath`, where the runtime sends the listener to the agent.
//
// Shadowing: libseccomp drops conditional rules for a syscall that also has an
// unconditional rule, so an `ioctl` in the base's plain allow list would turn
// every NOTIFY rule off. BuildOciProfile takes `ioctl` out of such rules and
// gives it back its action as the conditional rule `arg1 >= 0` (always
// true); `seccomp` comes back only for calls without the listener flag.
// libseccomp (2.4 and later) orders the comparisons
// on one argument by operator, masked equality before `>=`, whatever order the
// rules come in, so the NOTIFY rules are evaluated first; the unit test
// compiles the profile with libseccomp and checks the result against
// TrapRules::Traps. Only the native architecture is kept: i386 and x32 calls
// get the bad-architecture action, as the native filter refuses them.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "error/error.h"
#include "supervisor/filter.h"

namespace nvgate::agent {

struct OciProfileOptions {
  // The base profile (a `linux.seccomp` object, Docker's default for example);
  // none: a permissive base, SCMP_ACT_ALLOW for everything else.
  std::optional<nlohmann::ordered_json> base;
  // Where the runtime sends the listener: the agent's socket.
  std::string listener_path = "/run/nvgate/agent.sock";
  // Passed to the agent with the listener (`listenerMetadata`); nvgate reads
  // it as the container's capability request (docs/containers.md).
  std::optional<std::string> listener_metadata;
};

// The seccomp profile, or an error naming what in the base cannot be merged.
Result<nlohmann::ordered_json> BuildOciProfile(const supervisor::TrapRules& rules, const OciProfileOptions& options);

// The OCI name of the native architecture ("SCMP_ARCH_X86_64").
const char* NativeOciArch();

}  // namespace nvgate::agent
