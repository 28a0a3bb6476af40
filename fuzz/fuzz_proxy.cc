// The proxy decodes untrusted parameters: escape structs, control and alloc
// params, nested lists, fds. Fuzzed end to end against the simulated driver,
// so ASan also catches a buffer the proxy sized wrongly for the driver.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "proxy_world.h"

using namespace nvgate;
using namespace nvgate::fuzzing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  World& w = TheWorld();
  std::size_t node = data[0] % w.fds.size();
  std::uint32_t request;
  std::uint32_t offset;
  std::memcpy(&request, data + 1, 4);
  std::memcpy(&offset, data + 5, 4);
  std::vector<std::uint8_t> arena(data + 9, data + size);
  arena.resize(std::max<std::size_t>(arena.size(), 64));
  ArenaMemory memory(arena);
  NodeFiles files(w.fds);
  int dup = ::fcntl(w.fds[node], F_DUPFD_CLOEXEC, 0);
  proxy::Call call{.fd = dup, .device = w.kinds[node], .request = request,
                   .arg = kArenaBase + (offset % arena.size()), .pid = 1};
  w.proxy->Execute(call, memory, files);
  ::close(dup);
  return 0;
}
