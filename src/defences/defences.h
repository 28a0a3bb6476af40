// The defences nvgate keeps, named so that the code that keeps one says which.
//
// In every build but one, `Kept` is a constant true and the branches it guards
// compile away: the nvgate binary has no switch to turn a defence off. The
// escape suite (tests/escape) builds a second binary, nvgate_weakened, from
// the same sources with NVGATE_TEST_WEAKENINGS defined; there the environment
// variable NVGATE_TEST_WEAKEN, a comma list of the weakening names below,
// drops those defences, so that each escape test can show that it fails when
// the defence it is there for is gone.
#pragma once

#if defined(NVGATE_TEST_WEAKENINGS)
#include <cstdlib>
#include <cstring>
#endif

namespace nvgate::defences {

// Each defence, and the NVGATE_TEST_WEAKEN name that drops it.
enum class Defence {
  kCapabilityCheck,       // "no-capability-check": a call outside the capability set is refused
  kSingleFetch,           // "double-fetch": RM_ALLOC runs the parameters it decided on, read once
  kClientOwnership,       // "no-client-ownership": only the workload's own RM clients are accepted
  kSharePolicyCheck,      // "no-share-policy-check": RM_SHARE reaches no further than the workload
  kNeverContinue,         // "continue-other-files": a trapped call on another file is answered, never
                          // continued
  kArchCheck,             // "no-arch-check": the filter refuses other ABIs (int 0x80, x32)
  kLowWordMatch,          // "full-request-match": the filter matches a request on its low word only, as the
                          // kernel hands it to the driver
  kAnyTypeAndDirection,   // "exact-type": the filter traps frontend requests whatever their type and
                          // direction bits
  kSyscallDenials,        // "no-syscall-denials": ptrace, process_vm_*, io_uring, ... are refused
  kKillableRecv,          // "no-killable-recv": the filter is installed with WAIT_KILLABLE_RECV
  kUnreachableInit,       // "reachable-init": the sandbox's init is not dumpable and the workload never
                          // holds CAP_SYS_PTRACE
  kSizeChecks,            // "no-size-checks": the driver gets only sizes the table describes
  kGpuFileGate,           // "no-gpu-file-gate": a GPU-checked call runs while no other thread holds a
                          // GPU file
  kCallersGpuFiles,       // "every-gpu-file": a GPU-checked call runs holding the caller's GPU files only
  kDroppedCapabilities,   // "host-capabilities": a root workload keeps only the default capabilities
  kMaskedPaths,           // "unmasked-paths": /sys, PCI files, /proc/kcore, /proc/sys ... are masked and
                          // read-only
  kFrozenPin,             // "pin-without-freeze": a call in the caller's memory runs with the workload's
                          // other tasks stopped and its parameters equal to the checked copy
  kPinPrivateMemory,      // "pin-anywhere": a call in the caller's memory runs only on private anonymous
                          // memory that is not pinned for the GPU
  kGpuSelection,          // "no-gpu-selection": a call naming a GPU outside the workload's selection is
                          // refused
};

#if defined(NVGATE_TEST_WEAKENINGS)
inline const char* WeakeningName(Defence d) {
  switch (d) {
    case Defence::kCapabilityCheck: return "no-capability-check";
    case Defence::kSingleFetch: return "double-fetch";
    case Defence::kClientOwnership: return "no-client-ownership";
    case Defence::kSharePolicyCheck: return "no-share-policy-check";
    case Defence::kNeverContinue: return "continue-other-files";
    case Defence::kArchCheck: return "no-arch-check";
    case Defence::kLowWordMatch: return "full-request-match";
    case Defence::kAnyTypeAndDirection: return "exact-type";
    case Defence::kSyscallDenials: return "no-syscall-denials";
    case Defence::kKillableRecv: return "no-killable-recv";
    case Defence::kUnreachableInit: return "reachable-init";
    case Defence::kSizeChecks: return "no-size-checks";
    case Defence::kGpuFileGate: return "no-gpu-file-gate";
    case Defence::kCallersGpuFiles: return "every-gpu-file";
    case Defence::kDroppedCapabilities: return "host-capabilities";
    case Defence::kMaskedPaths: return "unmasked-paths";
    case Defence::kFrozenPin: return "pin-without-freeze";
    case Defence::kPinPrivateMemory: return "pin-anywhere";
    case Defence::kGpuSelection: return "no-gpu-selection";
  }
  return "";
}

// No allocation and no locks: called in the child between fork and exec too.
inline bool Kept(Defence d) {
  const char* list = std::getenv("NVGATE_TEST_WEAKEN");
  if (list == nullptr) return true;
  const char* name = WeakeningName(d);
  std::size_t len = std::strlen(name);
  for (const char* p = list; (p = std::strstr(p, name)) != nullptr; p += len) {
    bool starts = p == list || p[-1] == ',';
    bool ends = p[len] == '\0' || p[len] == ',';
    if (starts && ends) return false;
  }
  return true;
}
#else
constexpr bool Kept(Defence) { return true; }
#endif

}  // namespace nvgate::defences
