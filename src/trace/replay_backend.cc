#include "trace/replay_backend.h"

#include <sys/uio.h>

#include <linux/ioctl.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <span>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "abi/nv_structs.h"
#include "error/error.h"

namespace nvgate::trace {
namespace {

CallIdentity IdentityOf(const TracedCall& c) {
  return {c.device, c.request_level, c.request_key, c.size, c.level, c.key};
}

std::string Describe(const abi::Table& table, const CallIdentity& id) {
  const abi::Entry* entry = table.Find(id.level, id.key);
  std::string text = fmt::format("{} {} {:#x} {}", abi::DeviceKindName(id.device), abi::LevelName(id.level),
                                 id.key, entry ? entry->name : "(no table row)");
  if (id.level != id.request_level || id.key != id.request_key) {
    const abi::Entry* request = table.Find(id.request_level, id.request_key);
    text += fmt::format(" via {}", request ? request->name : fmt::format("{:#x}", id.request_key));
  }
  return text + fmt::format(", {} bytes", id.size);
}

// One parameter buffer of a call, as the proxy copies it between the workload
// and the driver: the top-level struct, a control's or alloc's nested struct,
// a list a layout item points at.
struct Buffer {
  std::string role;
  std::uint64_t addr = 0;  // in the address space the walk ran in
  std::uint32_t size = 0;
  bool read = true;        // false: an out-only list, which the proxy zero-fills
  bool written = true;     // false: the rights mask, never copied back
  // Per byte, the bits whose value differs between runs by nature: pointers
  // and fds (addresses and descriptor numbers of one process), the UVM flag
  // nvgate adds. Never compared; of fully varying bytes the supervisor's value
  // is kept when outputs are written.
  std::vector<std::uint8_t> varying;
};

struct Shape {
  CallIdentity id;
  std::vector<Buffer> buffers;
};

// The bytes at `addr` in the walk's address space, or nothing.
using Reader = std::function<std::optional<std::span<const std::byte>>(std::uint64_t addr, std::uint32_t size)>;

template <typename T>
std::optional<T> LoadAt(std::span<const std::byte> bytes, std::size_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

void MarkVarying(Buffer& b, std::size_t offset, std::size_t width, std::uint8_t bits = 0xff) {
  for (std::size_t i = offset; i < offset + width && i < b.varying.size(); ++i) b.varying[i] |= bits;
}

// Walks the layout items of buffer `index` (whose bytes are `bytes`),
// appending the lists they point at: what Marshal::In copies.
Result<void> AddLayout(Shape& s, std::size_t index, std::span<const abi::LayoutItem> layout,
                       std::span<const std::byte> bytes) {
  using Kind = abi::LayoutItem::Kind;
  for (const abi::LayoutItem& item : layout) {
    switch (item.kind) {
      case Kind::kFd:
        MarkVarying(s.buffers[index], item.offset, 4);
        break;
      case Kind::kNull:
        MarkVarying(s.buffers[index], item.offset, 8);
        break;
      case Kind::kInOut:
      case Kind::kOut:
      case Kind::kInOutSquare: {
        MarkVarying(s.buffers[index], item.offset, 8);
        auto addr = LoadAt<std::uint64_t>(bytes, item.offset);
        auto count32 = LoadAt<std::uint32_t>(bytes, item.count_offset);
        if (!addr || !count32) {
          return tl::unexpected(Error::Malformed(s.buffers[index].role + " is shorter than its layout"));
        }
        std::uint64_t count = *count32;
        if (item.kind == Kind::kInOutSquare) count *= count;
        std::uint64_t size = count * item.elem_size;
        if (*addr == 0 || size == 0) break;
        if (size > nv::kMaxParamCopySize) {
          return tl::unexpected(Error::Malformed(item.field + " is over the copy bound"));
        }
        s.buffers.push_back(Buffer{.role = item.field,
                                   .addr = *addr,
                                   .size = static_cast<std::uint32_t>(size),
                                   .read = item.kind != Kind::kOut,
                                   .written = true,
                                   .varying = std::vector<std::uint8_t>(size)});
        break;
      }
      case Kind::kClient:
      case Kind::kClientOrNull:
      case Kind::kStatus:
      case Kind::kShare:
      case Kind::kCallerGpuFiles:
        break;
    }
  }
  return {};
}

// Adds the buffer at `addr` read through `read`; returns its bytes.
Result<std::span<const std::byte>> AddRead(Shape& s, const Reader& read, std::string role, std::uint64_t addr,
                                           std::uint32_t size, bool written = true) {
  auto bytes = read(addr, size);
  if (!bytes) {
    return tl::unexpected(
        Error::Malformed(fmt::format("its {} ({} bytes at {:#x}) are not recorded", role, size, addr)));
  }
  s.buffers.push_back(Buffer{.role = std::move(role),
                             .addr = addr,
                             .size = size,
                             .read = true,
                             .written = written,
                             .varying = std::vector<std::uint8_t>(size)});
  return *bytes;
}

// The buffers of one call the way the proxy copies them, found by following
// the call's pointers through `read`: the supervisor's memory for an executed
// call, the recorded reads for a traced one.
Result<Shape> Walk(const abi::Table& table, abi::DeviceKind device, std::uint32_t request, std::uint64_t top,
                   const Reader& read) {
  Shape s;
  s.id.device = device;
  if (abi::IsFrontend(device)) {
    s.id.request_level = abi::Level::kFrontend;
    s.id.request_key = _IOC_NR(request);
    s.id.size = _IOC_SIZE(request);
  } else if (device == abi::DeviceKind::kUvm) {
    s.id.request_level = abi::Level::kUvm;
    s.id.request_key = request;
  } else {
    return tl::unexpected(
        Error::Malformed(fmt::format("an ioctl on {}, which no table covers", abi::DeviceKindName(device))));
  }
  s.id.level = s.id.request_level;
  s.id.key = s.id.request_key;
  const abi::Entry* entry = table.Find(s.id.request_level, s.id.request_key);
  if (entry == nullptr) {
    return tl::unexpected(Error::Malformed(fmt::format("request {:#x} has no table row", s.id.request_key)));
  }
  if (s.id.request_level == abi::Level::kUvm) s.id.size = entry->param_size;
  if (entry->handler == abi::Handler::kNoParams || s.id.size == 0) return s;

  auto bytes = AddRead(s, read, "parameters", top, s.id.size);
  if (!bytes) return tl::unexpected(bytes.error());
  std::span<const std::byte> top_bytes = *bytes;
  auto add_top_layout = [&]() { return AddLayout(s, 0, entry->layout, top_bytes); };
  Result<void> added;
  switch (entry->handler) {
    case abi::Handler::kSimple:
    case abi::Handler::kRmFree:
    case abi::Handler::kExportDmabuf:
      added = add_top_layout();
      break;
    case abi::Handler::kRmAllocMemory: {
      constexpr std::size_t kClass = offsetof(nv::nv_ioctl_nvos02_parameters_with_fd, params) +
                                     offsetof(nv::NVOS02_PARAMETERS, hClass);
      s.id.level = abi::Level::kAllocMemory;
      s.id.key = LoadAt<std::uint32_t>(top_bytes, kClass).value_or(0);
      // Host-memory pinning names the workload's own pages, wherever this
      // run has them.
      const abi::Entry* memory_class = table.Find(abi::Level::kAllocMemory, s.id.key);
      if (memory_class != nullptr && memory_class->handler == abi::Handler::kCallerMemory) {
        MarkVarying(s.buffers[0],
                    offsetof(nv::nv_ioctl_nvos02_parameters_with_fd, params) + offsetof(nv::NVOS02_PARAMETERS, pMemory),
                    sizeof(nv::NvP64));
      }
      added = add_top_layout();
      break;
    }
    case abi::Handler::kRmVidHeap:
      s.id.level = abi::Level::kVidHeap;
      s.id.key = LoadAt<std::uint32_t>(top_bytes, offsetof(nv::NVOS32_PARAMETERS, function)).value_or(0);
      added = add_top_layout();
      break;
    case abi::Handler::kUvmInitialize:
      // nvgate sets multi-process sharing mode on every UVM_INITIALIZE.
      MarkVarying(s.buffers[0], offsetof(nv::UVM_INITIALIZE_PARAMS, flags),
                  1, static_cast<std::uint8_t>(nv::kUvmInitFlagsMultiProcessSharingMode));
      break;
    case abi::Handler::kBytes:
      break;
    case abi::Handler::kRmControl: {
      if (s.id.size != sizeof(nv::NVOS54_PARAMETERS)) {
        return tl::unexpected(Error::Malformed("RM_CONTROL of another size"));
      }
      nv::NVOS54_PARAMETERS p;
      std::memcpy(&p, top_bytes.data(), sizeof p);
      s.id.level = abi::Level::kControl;
      s.id.key = p.cmd;
      MarkVarying(s.buffers[0], offsetof(nv::NVOS54_PARAMETERS, params), 8);
      const abi::Entry* control = table.Find(abi::Level::kControl, p.cmd);
      if (control == nullptr || p.params == 0 || p.paramsSize == 0) break;
      if (p.paramsSize > nv::kMaxParamCopySize) {
        return tl::unexpected(Error::Malformed("paramsSize is over the copy bound"));
      }
      auto nested = AddRead(s, read, "control parameters", p.params, p.paramsSize);
      if (!nested) return tl::unexpected(nested.error());
      added = AddLayout(s, s.buffers.size() - 1, control->layout, *nested);
      break;
    }
    case abi::Handler::kRmAlloc: {
      bool long_form = s.id.size == sizeof(nv::NVOS64_PARAMETERS);
      if (!long_form && s.id.size != sizeof(nv::NVOS21_PARAMETERS)) {
        return tl::unexpected(Error::Malformed("RM_ALLOC of another size"));
      }
      nv::NVOS21_PARAMETERS head;
      std::memcpy(&head, top_bytes.data(), sizeof head);
      s.id.level = abi::Level::kAlloc;
      s.id.key = head.hClass;
      MarkVarying(s.buffers[0], offsetof(nv::NVOS21_PARAMETERS, pAllocParms), 8);
      const abi::Entry* alloc = table.Find(abi::Level::kAlloc, head.hClass);
      if (alloc == nullptr) break;
      if (long_form) {
        MarkVarying(s.buffers[0], offsetof(nv::NVOS64_PARAMETERS, pRightsRequested), 8);
        auto rights = LoadAt<std::uint64_t>(top_bytes, offsetof(nv::NVOS64_PARAMETERS, pRightsRequested));
        if (rights && *rights != 0) {
          auto r = AddRead(s, read, "requested rights", *rights, sizeof(std::uint32_t), /*written=*/false);
          if (!r) return tl::unexpected(r.error());
        }
      }
      std::uint32_t nested_size = alloc->handler == abi::Handler::kNoParams ? 0 : alloc->param_size;
      if (head.pAllocParms == 0 || nested_size == 0) break;
      auto nested = AddRead(s, read, "alloc parameters", head.pAllocParms, nested_size);
      if (!nested) return tl::unexpected(nested.error());
      added = AddLayout(s, s.buffers.size() - 1, alloc->layout, *nested);
      break;
    }
    case abi::Handler::kNoParams:
    case abi::Handler::kRootClient:
    case abi::Handler::kCallerMemory:
    case abi::Handler::kDeny:
      break;
  }
  if (!added) return tl::unexpected(added.error());
  return s;
}

// A recorded copy of `size` bytes at `addr`, skipping those already used.
const proxy::MemoryCopy* FindCopy(const std::vector<proxy::MemoryCopy>& copies, std::uint64_t addr,
                                  std::uint32_t size, std::vector<bool>* used = nullptr) {
  for (std::size_t i = 0; i < copies.size(); ++i) {
    if (copies[i].addr != addr || copies[i].bytes.size() != size) continue;
    if (used != nullptr) {
      if ((*used)[i]) continue;
      (*used)[i] = true;
    }
    return &copies[i];
  }
  return nullptr;
}

// The first byte of `got` that differs from `want` outside the varying bits.
std::optional<std::size_t> FirstDifference(const Buffer& b, std::span<const std::byte> want,
                                           std::span<const std::byte> got) {
  for (std::size_t i = 0; i < b.size; ++i) {
    auto mask = static_cast<std::byte>(~b.varying[i]);
    if ((want[i] & mask) != (got[i] & mask)) return i;
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<ReplayMatcher>> ReplayMatcher::Create(Trace trace) {
  if (!trace.header.with_params) {
    return tl::unexpected(Error::Malformed(
        std::string("the trace was recorded without --with-params: it has no driver outputs to answer calls with "
                    "(record it again with nvgate trace --with-params)")));
  }
  const abi::Table* table = abi::TableForVersion(trace.header.driver_version);
  if (table == nullptr) {
    return tl::unexpected(
        Error::Unsupported("the trace's driver " + trace.header.driver_version + " is not supported"));
  }
  return std::unique_ptr<ReplayMatcher>(new ReplayMatcher(std::move(trace), *table));
}

ReplayMatcher::ReplayMatcher(Trace trace, const abi::Table& table) : trace_(std::move(trace)), table_(table) {
  std::map<int, std::size_t> by_tid;
  for (std::size_t i = 0; i < trace_.calls.size(); ++i) {
    const TracedCall& c = trace_.calls[i];
    if (!c.driver_return) continue;
    auto [it, added] = by_tid.try_emplace(c.tid, threads_.size());
    if (added) threads_.push_back(RecordedThread{.tid = c.tid, .calls = {}});
    threads_[it->second].calls.push_back(i);
  }
}

std::optional<std::size_t> ReplayMatcher::ThreadFor(int tid, const CallIdentity& first_call) {
  if (auto it = bound_.find(tid); it != bound_.end()) return it->second;
  // A workload thread's first call: the first recorded thread not yet taken
  // whose first driver call is this one, else the first not yet taken (whose
  // first call then fails to match, and says so).
  std::optional<std::size_t> chosen;
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    if (threads_[i].bound) continue;
    if (IdentityOf(trace_.calls[threads_[i].calls.front()]) == first_call) {
      chosen = i;
      break;
    }
    if (!chosen) chosen = i;
  }
  if (chosen) {
    threads_[*chosen].bound = true;
    bound_[tid] = *chosen;
  }
  return chosen;
}

int ReplayMatcher::Diverge(std::string message) {
  spdlog::error("replay: {}", message);
  divergence_ = std::move(message);
  return -EIO;
}

int ReplayMatcher::Answer(int tid, abi::DeviceKind device, std::uint32_t request, void* arg) {
  std::lock_guard lock(mu_);
  const std::uint64_t number = ++calls_seen_;
  if (divergence_) return -EIO;

  // The proxy hands over its own copies: their pointers are this process's.
  Reader supervisor = [](std::uint64_t addr, std::uint32_t size) -> std::optional<std::span<const std::byte>> {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(addr), size);
  };
  auto got = Walk(table_, device, request, reinterpret_cast<std::uintptr_t>(arg), supervisor);
  if (!got) return Diverge(fmt::format("call {}: cannot decode it: {}", number, got.error()));
  const std::string got_text = Describe(table_, got->id);

  // Where a call the workload makes now was refused when the trace was
  // recorded: it never reached the driver, so the trace has no answer for it.
  auto refused_hint = [&](int recorded_tid, std::size_t from, std::size_t to) -> std::string {
    for (std::size_t i = from; i < to && i < trace_.calls.size(); ++i) {
      const TracedCall& c = trace_.calls[i];
      if (c.tid == recorded_tid && !c.driver_return && IdentityOf(c) == got->id) {
        return fmt::format("; the trace has this call at seq {}, refused when it was recorded under {}, so it "
                           "never reached the driver and has no recorded answer",
                           c.seq, trace_.header.caps.ToString());
      }
    }
    return "";
  };
  auto thread = ThreadFor(tid, got->id);
  if (!thread) {
    return Diverge(fmt::format("call {}: made by a new thread, but each of the trace's {} threads is taken; got {}",
                               number, threads_.size(), got_text));
  }
  RecordedThread& recorded_thread = threads_[*thread];
  const std::size_t next = recorded_thread.next;
  const std::size_t previous = next == 0 ? 0 : recorded_thread.calls[next - 1] + 1;
  if (next == recorded_thread.calls.size()) {
    return Diverge(fmt::format("call {}: the trace has no more driver calls for this thread (all {} of recorded "
                               "thread {} were answered), got {}{}",
                               number, next, recorded_thread.tid, got_text,
                               refused_hint(recorded_thread.tid, previous, trace_.calls.size())));
  }
  const TracedCall& want = trace_.calls[recorded_thread.calls[next]];
  const std::string want_text = fmt::format("seq {} {}", want.seq, Describe(table_, IdentityOf(want)));
  if (IdentityOf(want) != got->id) {
    return Diverge(fmt::format("call {}: expected {}, got {}{}", number, want_text, got_text,
                               refused_hint(recorded_thread.tid, previous, recorded_thread.calls[next])));
  }

  Reader recorded = [&](std::uint64_t addr, std::uint32_t size) -> std::optional<std::span<const std::byte>> {
    const proxy::MemoryCopy* copy = FindCopy(want.in, addr, size);
    if (copy == nullptr) return std::nullopt;
    return std::span<const std::byte>(copy->bytes);
  };
  const std::uint64_t recorded_top = want.in.empty() ? 0 : want.in.front().addr;
  auto expected = Walk(table_, want.device, want.request, recorded_top, recorded);
  if (!expected) return Diverge(fmt::format("call {}: the trace's {} cannot be replayed: {}", number, want_text,
                                            expected.error()));

  for (std::size_t i = 0; i < got->buffers.size() || i < expected->buffers.size(); ++i) {
    if (i >= got->buffers.size() || i >= expected->buffers.size() ||
        got->buffers[i].role != expected->buffers[i].role || got->buffers[i].size != expected->buffers[i].size) {
      auto describe = [](const std::vector<Buffer>& buffers, std::size_t at) {
        return at < buffers.size() ? fmt::format("{} of {} bytes", buffers[at].role, buffers[at].size)
                                   : std::string("nothing more");
      };
      return Diverge(fmt::format("call {}: {}: expected {} as its parameter buffer {}, got {}", number, want_text,
                                 describe(expected->buffers, i), i + 1, describe(got->buffers, i)));
    }
    const Buffer& g = got->buffers[i];
    const Buffer& e = expected->buffers[i];
    if (!g.read) continue;
    auto recorded_bytes = recorded(e.addr, e.size);
    if (!recorded_bytes) {
      return Diverge(fmt::format("call {}: the trace's {} cannot be replayed: its {} ({} bytes at {:#x}) are not "
                                 "recorded",
                                 number, want_text, e.role, e.size, e.addr));
    }
    std::span<const std::byte> want_bytes = *recorded_bytes;
    std::span<const std::byte> got_bytes = *supervisor(g.addr, g.size);
    if (auto at = FirstDifference(e, want_bytes, got_bytes)) {
      return Diverge(fmt::format("call {}: {}: byte {} of its {} differs: expected {:#04x}, got {:#04x}",
                                 number, want_text, *at, g.role, std::to_integer<unsigned>(want_bytes[*at]),
                                 std::to_integer<unsigned>(got_bytes[*at])));
    }
  }

  const abi::Entry* request_entry = table_.Find(got->id.request_level, got->id.request_key);
  if (request_entry != nullptr && request_entry->handler == abi::Handler::kExportDmabuf &&
      LoadAt<std::int32_t>(std::span<const std::byte>(static_cast<const std::byte*>(arg), got->id.size), 0)
              .value_or(0) < 0) {
    return Diverge(fmt::format("call {}: {}: the dma-buf fd the driver created cannot be replayed", number,
                               want_text));
  }

  // The recorded outputs, by role: the n-th buffer of the executed call gets
  // what the proxy wrote back from the n-th buffer of the recorded one.
  std::vector<bool> used(want.out.size());
  for (std::size_t i = 0; i < got->buffers.size(); ++i) {
    const Buffer& g = got->buffers[i];
    const Buffer& e = expected->buffers[i];
    if (!e.written) continue;
    const proxy::MemoryCopy* out = FindCopy(want.out, e.addr, e.size, &used);
    if (out == nullptr) continue;  // the recorded call wrote nothing back there
    auto* target = reinterpret_cast<std::byte*>(g.addr);
    for (std::size_t b = 0; b < g.size; ++b) {
      if (g.varying[b] != 0xff) target[b] = out->bytes[b];
    }
  }
  ++recorded_thread.next;
  return *want.driver_return;
}

std::optional<std::string> ReplayMatcher::Outcome() const {
  std::lock_guard lock(mu_);
  if (divergence_) return divergence_;
  std::size_t unmade = 0;
  std::optional<std::size_t> first;
  for (const RecordedThread& t : threads_) {
    unmade += t.calls.size() - t.next;
    if (t.next < t.calls.size() && (!first || t.calls[t.next] < *first)) first = t.calls[t.next];
  }
  if (!first) return std::nullopt;
  const TracedCall& c = trace_.calls[*first];
  return fmt::format("the workload made {} calls; {} more recorded driver calls were never made, the first "
                     "seq {} {}",
                     calls_seen_, unmade, c.seq, Describe(table_, IdentityOf(c)));
}

Result<std::unique_ptr<ReplayBackend>> ReplayBackend::Open(const std::string& trace_path) {
  auto trace = ReadTraceFile(trace_path);
  if (!trace) return tl::unexpected(trace.error());
  auto backend = FromTrace(std::move(*trace));
  if (!backend) return tl::unexpected(backend.error().Prefixed(trace_path + ": "));
  return backend;
}

Result<std::unique_ptr<ReplayBackend>> ReplayBackend::FromTrace(Trace trace) {
  auto matcher = ReplayMatcher::Create(std::move(trace));
  if (!matcher) return tl::unexpected(matcher.error());
  // One GPU node, as the sim offers by default: the trace does not say how
  // many GPU nodes the recording run had.
  auto nodes = backend::NodeFiles::Create("replay", "", 1);
  if (!nodes) return tl::unexpected(nodes.error());
  return std::unique_ptr<ReplayBackend>(new ReplayBackend(std::move(*matcher), std::move(*nodes)));
}

Result<std::string> ReplayBackend::DriverVersion() { return matcher_->header().driver_version; }

std::optional<int> ReplayBackend::IoctlAsCaller(int fd, abi::DeviceKind device, std::uint32_t request,
                                                std::uint64_t arg, pid_t tid) {
  std::vector<std::byte> params(_IOC_SIZE(request));
  iovec local{params.data(), params.size()};
  iovec remote{reinterpret_cast<void*>(arg), params.size()};
  if (process_vm_readv(tid, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(params.size())) return -EFAULT;
  int rc = Ioctl(fd, device, request, params.data(), tid);
  if (process_vm_writev(tid, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(params.size())) return -EFAULT;
  return rc;
}

int ReplayBackend::Ioctl(int, abi::DeviceKind device, std::uint32_t request, void* arg, int tid) {
  return matcher_->Answer(tid, device, request, arg);
}

}  // namespace nvgate::trace
