// Deliberately broken defences, for the escape suite only (tests/escape).
//
// Each escape test must fail when the defence it is there for is gone. The
// suite builds a second binary, nvgate_weakened, with NVGATE_TEST_WEAKENINGS
// defined; it reads the NVGATE_TEST_WEAKEN environment variable (a comma list
// of the names below) and breaks those defences. In every other build
// `Weakened` is a constant false and the branches it guards compile away: the
// nvgate binary has no switch to turn a defence off.
#pragma once

#if defined(NVGATE_TEST_WEAKENINGS)
#include <cstdlib>
#include <cstring>
#endif

namespace nvgate::testing {

enum class Weakening {
  kNoCapabilityCheck,     // "no-capability-check": calls outside the capability set run
  kDoubleFetch,           // "double-fetch": RM_ALLOC re-reads the workload's parameters after deciding
  kNoClientOwnership,     // "no-client-ownership": any RM client handle is accepted
  kNoSharePolicyCheck,    // "no-share-policy-check": RM_SHARE with any policy passes
  kContinueOtherFiles,    // "continue-other-files": trapped calls on other files get CONTINUE
  kNoArchCheck,           // "no-arch-check": the filter ignores the ABI (int 0x80, x32)
  kFullRequestMatch,      // "full-request-match": the filter traps only requests with a zero upper word
  kExactTypeAndDirection, // "exact-type": the filter traps frontend requests only with type 'F' and read|write
  kNoSyscallDenials,      // "no-syscall-denials": ptrace, process_vm_*, io_uring, ... are allowed
  kNoKillableRecv,        // "no-killable-recv": the filter is installed without WAIT_KILLABLE_RECV
  kReachableInit,         // "reachable-init": init stays dumpable, the workload keeps CAP_SYS_PTRACE
  kNoSizeChecks,          // "no-size-checks": the driver gets sizes the table does not describe
  kNoGpuFileGate,         // "no-gpu-file-gate": GPU-checked calls run while other threads hold GPU files
  kEveryGpuFile,          // "every-gpu-file": GPU-checked calls run holding every GPU node, not the caller's
  kHostCapabilities,      // "host-capabilities": a root workload keeps every capability but CAP_SYS_PTRACE
  kUnmaskedPaths,         // "unmasked-paths": /sys, PCI files, /proc/kcore, /proc/sys ... are left as they are
  kPinWithoutFreeze,      // "pin-without-freeze": a call in the caller's memory runs with the workload's other
                          // tasks running and without comparing its parameters with the checked copy
  kPinAnywhere,           // "pin-anywhere": a call in the caller's memory runs whatever memory its parameters lie in
  kNoGpuSelection,        // "no-gpu-selection": calls naming a GPU outside the workload's selection run
};

#if defined(NVGATE_TEST_WEAKENINGS)
inline const char* WeakeningName(Weakening w) {
  switch (w) {
    case Weakening::kNoCapabilityCheck: return "no-capability-check";
    case Weakening::kDoubleFetch: return "double-fetch";
    case Weakening::kNoClientOwnership: return "no-client-ownership";
    case Weakening::kNoSharePolicyCheck: return "no-share-policy-check";
    case Weakening::kContinueOtherFiles: return "continue-other-files";
    case Weakening::kNoArchCheck: return "no-arch-check";
    case Weakening::kFullRequestMatch: return "full-request-match";
    case Weakening::kExactTypeAndDirection: return "exact-type";
    case Weakening::kNoSyscallDenials: return "no-syscall-denials";
    case Weakening::kNoKillableRecv: return "no-killable-recv";
    case Weakening::kReachableInit: return "reachable-init";
    case Weakening::kNoSizeChecks: return "no-size-checks";
    case Weakening::kNoGpuFileGate: return "no-gpu-file-gate";
    case Weakening::kEveryGpuFile: return "every-gpu-file";
    case Weakening::kHostCapabilities: return "host-capabilities";
    case Weakening::kUnmaskedPaths: return "unmasked-paths";
    case Weakening::kPinWithoutFreeze: return "pin-without-freeze";
    case Weakening::kPinAnywhere: return "pin-anywhere";
    case Weakening::kNoGpuSelection: return "no-gpu-selection";
  }
  return "";
}

// No allocation and no locks: called in the child between fork and exec too.
inline bool Weakened(Weakening w) {
  const char* list = std::getenv("NVGATE_TEST_WEAKEN");
  if (list == nullptr) return false;
  const char* name = WeakeningName(w);
  std::size_t len = std::strlen(name);
  for (const char* p = list; (p = std::strstr(p, name)) != nullptr; p += len) {
    bool starts = p == list || p[-1] == ',';
    bool ends = p[len] == '\0' || p[len] == ',';
    if (starts && ends) return true;
  }
  return false;
}
#else
constexpr bool Weakened(Weakening) { return false; }
#endif

}  // namespace nvgate::testing
