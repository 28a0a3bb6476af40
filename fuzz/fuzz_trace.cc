// Traces are read from files anyone may hand nvgate (learn, replay, summary,
// --backend replay): the JSON Lines decoder with its hex `in`/`out` copies,
// then, for a trace with parameters, the replay backend's matcher behind the
// real proxy, which follows the recorded parameters' pointers through the
// recorded copies. Each call of the trace is executed again as recorded.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

#include "error/error.h"
#include "proxy/memory_fakes.h"
#include "proxy/proxy.h"
#include "trace/replay_backend.h"
#include "trace/trace.h"

using namespace nvgate;

namespace {

class NoFiles : public proxy::TargetFiles {
 public:
  // This process holds its own files: nothing to add for the driver to see.
  int HoldCallerGpuFiles(std::vector<fd::OwnedFd>&) override { return 0; }
  int Duplicate(int) override { return -EBADF; }
  int Install(int) override { return -EMFILE; }
};

// The matcher as the proxy's backend, without node files.
class MatcherBackend : public backend::Backend {
 public:
  explicit MatcherBackend(trace::ReplayMatcher& matcher) : matcher_(matcher) {}
  std::string_view Name() const override { return "replay"; }
  nvgate::Result<std::string> DriverVersion() override { return matcher_.header().driver_version; }
  abi::DeviceKind Classify(const struct stat&) const override { return abi::DeviceKind::kNotNvidia; }
  std::vector<backend::DeviceNode> Nodes() const override { return {}; }
  int Ioctl(int, abi::DeviceKind device, std::uint32_t request, void* arg, int tid) override {
    return matcher_.Answer(tid, device, request, arg);
  }

 private:
  trace::ReplayMatcher& matcher_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto trace = trace::ReadTrace(in);
  if (!trace) return 0;
  const std::vector<trace::TracedCall> calls = trace->calls;
  const caps::CapSet caps = trace->header.caps;
  auto matcher = trace::ReplayMatcher::Create(std::move(*trace));
  if (!matcher) return 0;
  MatcherBackend backend(**matcher);
  policy::DenialLog denials([](const policy::Denial&) {});
  proxy::Proxy proxy(*abi::TableForVersion((*matcher)->header().driver_version), caps, backend, denials);
  NoFiles files;
  for (const trace::TracedCall& c : calls) {
    proxy::RecordedMemory memory(c.in);
    proxy::Call call{.fd = -1,
                     .device = c.device,
                     .request = c.request,
                     .arg = c.in.empty() ? 0 : c.in.front().addr,
                     .pid = 1};
    proxy.Execute(call, memory, files);
  }
  (void)(*matcher)->Outcome();
  return 0;
}
