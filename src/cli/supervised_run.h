// `nvgate run`'s set-up and supervision, shared by the commands that run a
// workload: run, run --audit, trace and learn.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "abi/abi.h"
#include "caps/caps.h"
#include "cli/commands.h"
#include "error/error.h"
#include "proxy/call_record.h"

namespace nvgate::cli {

// Which capabilities the proxy executes calls under.
enum class ExecutedCaps : std::uint8_t {
  kRequested,     // the resolved request (--caps, else NVIDIA_DRIVER_CAPABILITIES): nvgate run
  kAllowedBound,  // the whole --allowed-caps bound: learn and run --audit
  // None: the kernel runs every call, each reported to the observer first
  // (trace --observe-only). Backends without a native driver get the proxy
  // under the bound in its place.
  kObserveOnly,
};

// What is known once the driver and the capabilities are resolved.
struct RunSetup {
  const abi::Table& table;
  std::string driver_version;  // the version whose table decides
  std::string backend;         // "host", "sim" or "replay"
  caps::CapSet requested;      // the resolved request
  caps::CapSet enabled;        // what calls are executed under
  caps::CapSet allowed;        // the operator's bound
};

// Returns the observer the proxy reports every call to (it must outlive the
// run), or an error that stops nvgate before the command starts.
using ObserverFactory = std::function<Result<proxy::CallObserver*>(const RunSetup& setup)>;

// Runs `options.command` supervised and returns its exit status, or
// kExitSetupFailure after printing "nvgate <command_name>: <why>".
int SuperviseCommand(std::string_view command_name, const RunOptions& options, ExecutedCaps executed,
                     const ObserverFactory& observe);

}  // namespace nvgate::cli
