#include "proxy/proxy.h"

#include <linux/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "abi/nv_structs.h"
#include "defences/defences.h"
#include "proxy/marshal.h"
#include "proxy/recording_memory.h"

namespace nvgate::proxy {

using defences::Defence;

void ClientRegistry::Add(std::uint32_t client) {
  std::lock_guard lock(mu_);
  clients_.insert(client);
}

void ClientRegistry::Remove(std::uint32_t client) {
  std::lock_guard lock(mu_);
  clients_.erase(client);
}

bool ClientRegistry::Owns(std::uint32_t client) const {
  std::lock_guard lock(mu_);
  return clients_.contains(client) || !defences::Kept(Defence::kClientOwnership);
}

void PinnedMemory::Add(std::uint32_t client, std::uint32_t memory, std::uint64_t begin, std::uint64_t end) {
  std::lock_guard lock(mu_);
  ranges_[{client, memory}] = {begin, end};
}

void PinnedMemory::Forget(std::uint32_t client, std::uint32_t handle) {
  std::lock_guard lock(mu_);
  ranges_.erase({client, handle});
}

void PinnedMemory::ForgetClient(std::uint32_t client) {
  std::lock_guard lock(mu_);
  std::erase_if(ranges_, [client](const auto& r) { return r.first.first == client; });
}

bool PinnedMemory::Overlaps(std::uint64_t begin, std::uint64_t end) const {
  std::lock_guard lock(mu_);
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [&](const auto& r) { return begin < r.second.second && r.second.first < end; });
}

namespace {

constexpr Reply Fail(int error) { return Reply{.value = -1, .error = error}; }
constexpr Reply Ok(std::int64_t value = 0) { return Reply{.value = value, .error = 0}; }

std::uint32_t FrontendRequest(std::uint32_t nr, std::uint32_t size) {
  return _IOC(_IOC_READ | _IOC_WRITE, nv::kIoctlMagic, nr, size);
}

bool IsRootClientClass(std::uint32_t cls) {
  return cls == nv::kNv01Root || cls == nv::kNv01RootNonPriv || cls == nv::kNv01RootClient;
}

}  // namespace

// One call in flight: the workload's view (memory, files) plus the
// supervisor-side state the call acquires (fd duplicates), released at the end.
class Proxy::Execution {
 public:
  Execution(Proxy& proxy, const Call& call, TargetMemory& memory, TargetFiles& files)
      : p_(proxy), call_(call), memory_(memory), files_(files) {}

  // Run() for an observed call: the decisions, refusals and driver call are
  // noted in `record` as they happen.
  Reply Run(CallRecord& record) {
    record_ = &record;
    Reply reply = Run();
    record.request_level = level_;
    record.request_key = key_;
    record.size = size_;
    return reply;
  }

  Reply Run() {
    Reply reply = Dispatch();
    reply.denied = denied_;
    return reply;
  }

 private:
  Reply Dispatch() {
    if (abi::IsFrontend(call_.device)) {
      level_ = abi::Level::kFrontend;
      key_ = _IOC_NR(call_.request);
      size_ = _IOC_SIZE(call_.request);
    } else if (call_.device == abi::DeviceKind::kUvm) {
      level_ = abi::Level::kUvm;
      key_ = call_.request;
    } else {
      // nvidia-modeset, uvm-tools and caps nodes dispatch ioctls nvgate has
      // no table for: default deny.
      level_ = abi::Level::kFrontend;
      key_ = _IOC_NR(call_.request);
      return Refuse(policy::Decision{.verdict = policy::Verdict::kUnknown,
                                     .entry = nullptr,
                                     .answer = policy::DenialAnswer(level_)},
                    level_, key_);
    }
    policy::Decision d = policy::Decide(p_.table_, level_, key_, p_.enabled_);
    if (!Allowed(d)) return Refuse(d, level_, key_);
    entry_ = d.entry;

    if (level_ == abi::Level::kFrontend) {
      bool variable = entry_->handler == abi::Handler::kBytes ||
                      entry_->handler == abi::Handler::kRmAlloc;
      // The driver checks each escape's size; nvgate checks it first so that
      // it never copies more or less than the table describes.
      if (!variable && size_ != entry_->param_size && !SizeCheckDropped(entry_->param_size)) {
        return Fail(EINVAL);
      }
    } else {
      size_ = entry_->param_size;
    }

    switch (entry_->handler) {
      case abi::Handler::kSimple:
        return RunSimple();
      case abi::Handler::kNoParams:
        return Backend(nullptr);
      case abi::Handler::kBytes:
        return RunBytes();
      case abi::Handler::kRmControl:
        return RunControl();
      case abi::Handler::kRmAlloc:
        return RunAlloc();
      case abi::Handler::kRmAllocMemory:
        return RunSubDispatched(abi::Level::kAllocMemory,
                                offsetof(nv::NVOS02_PARAMETERS, hClass),
                                offsetof(nv::NVOS02_PARAMETERS, status));
      case abi::Handler::kRmVidHeap:
        return RunSubDispatched(abi::Level::kVidHeap, offsetof(nv::NVOS32_PARAMETERS, function),
                                std::nullopt);
      case abi::Handler::kRmFree:
        return RunFree();
      case abi::Handler::kUvmInitialize:
        return RunUvmInitialize();
      case abi::Handler::kExportDmabuf:
        return RunExportDmabuf();
      case abi::Handler::kRootClient:
      case abi::Handler::kCallerMemory:
      case abi::Handler::kDeny:
        break;  // not frontend or UVM handlers; the table parser enforces it
    }
    return Fail(EINVAL);
  }

  // Without the size checks (the weakened build) a request larger than the
  // struct nvgate reads of it goes to the driver as it came. Never one that
  // is smaller: nvgate's copy must still hold every field it parses.
  bool SizeCheckDropped(std::uint32_t parsed_size) const {
    return size_ > parsed_size && !defences::Kept(Defence::kSizeChecks);
  }

  // ---- denials ----

  bool Allowed(const policy::Decision& d) {
    if (record_) record_->decision = d;
    return d.allowed() || (!defences::Kept(Defence::kCapabilityCheck) &&
                           d.verdict == policy::Verdict::kMissingCapability);
  }

  Reply Refuse(const policy::Decision& d, abi::Level level, std::uint32_t key) {
    if (record_) record_->decision = d;
    LogDecision(d, level, key);
    return Fail(d.answer.error ? d.answer.error : EINVAL);
  }

  void LogDecision(const policy::Decision& d, abi::Level level, std::uint32_t key) {
    Log(level, key, policy::DeniedCapability(d), policy::CallName(d, level),
        policy::Describe(d, level, key, p_.enabled_));
  }

  void Log(abi::Level level, std::uint32_t key, std::string capability, std::string call_name,
           const std::string& what) {
    denied_ = true;
    if (record_) record_->refusal = Refusal{.level = level, .key = key, .message = what};
    p_.denials_.Report({.pid = call_.pid,
                        .level = level,
                        .key = key,
                        .line = "pid " + std::to_string(call_.pid) + ": " + what,
                        .capability = std::move(capability),
                        .call = std::move(call_name)});
  }

  // Whether the call names a GPU outside the workload's selection; such a
  // call is logged as refused, naming the GPU.
  bool OutsideGpus(const abi::Entry& entry, std::span<const std::byte> params) {
    auto outside = GpuOutsideScope(entry, params, p_.gpus_);
    if (!outside || !defences::Kept(Defence::kGpuSelection)) return false;
    Log(entry.level, entry.key, "gpu", entry.name,
        "gpu: " + entry.name + " names " + *outside + ", outside this workload's GPUs (" +
            p_.gpus_.selection.ToString() + "); denied");
    return true;
  }

  // A refusal answered in a status field: the ioctl succeeds and the status
  // says what the driver would say.
  Reply RefuseInStatus(std::span<std::byte> top, std::uint32_t status_offset,
                       std::uint32_t status) {
    Store<std::uint32_t>(top, status_offset, status);
    return WriteBack(top, Ok());
  }

  // How a marshalling failure is answered: in the status field where the
  // struct has one (as RM would), else as the ioctl's error.
  Reply MarshalFailure(MarshalError error, const Marshal& m, std::span<std::byte> top,
                       std::optional<std::uint32_t> status_offset) {
    if (error == MarshalError::kForeignClient) {
      Log(level_, key_, "client", entry_->name,
          fmt::format("client: {} names RM client {:#x} that this workload did not create; denied", entry_->name,
                      m.foreign_client()));
    }
    if (error == MarshalError::kShareOutside) {
      Log(level_, key_, "share", entry_->name,
          "share: " + entry_->name + " with share type " + std::to_string(m.refused_share_type()) +
              " would let other sandboxes use the object (only a share with this workload's own "
              "client passes); denied");
    }
    if (error == MarshalError::kFault) return Fail(EFAULT);
    if (!status_offset) return Fail(EINVAL);
    return RefuseInStatus(top, *status_offset,
                          error == MarshalError::kForeignClient  ? nv::kNvErrInvalidClient
                          : error == MarshalError::kShareOutside ? nv::kNvErrInsufficientPermissions
                                                                 : nv::kNvErrInvalidArgument);
  }

  // ---- memory ----

  bool ReadTop(std::vector<std::byte>& buf) {
    buf.resize(size_);
    return size_ == 0 || memory_.Read(call_.arg, buf.data(), buf.size());
  }

  Reply WriteBack(std::span<const std::byte> top, Reply reply) {
    if (!top.empty() && !memory_.Write(call_.arg, top.data(), top.size())) return Fail(EFAULT);
    return reply;
  }

  Reply Backend(void* arg) {
    std::uint32_t request = level_ == abi::Level::kUvm ? key_ : FrontendRequest(key_, size_);
    const auto driver_started =
        record_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    int rc = p_.backend_.Ioctl(call_.fd, call_.device, request, arg, call_.tid);
    if (record_) {
      record_->driver_return = rc;
      record_->driver_time = std::chrono::steady_clock::now() - driver_started;
    }
    return rc < 0 ? Fail(-rc) : Ok(rc);
  }

  // ---- handler kinds ----

  // Fixed-size parameters plus the translations the row's layout names.
  Reply RunSimple() {
    std::vector<std::byte> top;
    if (!ReadTop(top)) return Fail(EFAULT);
    if (OutsideGpus(*entry_, top)) return Fail(EINVAL);
    return RunWithLayout(top, entry_->layout);
  }

  Reply RunWithLayout(std::vector<std::byte>& top, std::span<const abi::LayoutItem> layout) {
    FdSet fds;
    Marshal m(layout, memory_, files_, p_.clients_, fds);
    if (MarshalError e = m.In(top); e != MarshalError::kNone) {
      return MarshalFailure(e, m, top, m.StatusOffset());
    }
    Reply reply = Backend(top.empty() ? nullptr : top.data());
    // The driver copies parameters back even when the call failed.
    if (m.Out(top) != MarshalError::kNone) return Fail(EFAULT);
    return WriteBack(top, reply);
  }

  Reply RunBytes() {
    if (size_ == 0 || size_ > nv::kMaxIoctlSize) return Fail(EINVAL);
    std::vector<std::byte> buf;
    if (!ReadTop(buf)) return Fail(EFAULT);
    if (OutsideGpus(*entry_, buf)) return Fail(EINVAL);
    return WriteBack(buf, Backend(buf.data()));
  }

  // NV_ESC_RM_CONTROL: decided on the copied cmd, executed with the copied
  // (and deep-copied) params.
  Reply RunControl() {
    std::vector<std::byte> top;
    if (!ReadTop(top)) return Fail(EFAULT);
    auto* os54 = reinterpret_cast<nv::NVOS54_PARAMETERS*>(top.data());
    constexpr std::uint32_t kStatus = offsetof(nv::NVOS54_PARAMETERS, status);

    if (!p_.clients_.Owns(os54->hClient)) {
      Log(level_, key_, "client", entry_->name,
          fmt::format("client: control {:#x} names RM client {:#x} that this workload did not create; denied",
                      os54->cmd, os54->hClient));
      return RefuseInStatus(top, kStatus, nv::kNvErrInvalidClient);
    }
    policy::Decision d = policy::Decide(p_.table_, abi::Level::kControl, os54->cmd, p_.enabled_);
    if (!Allowed(d)) {
      LogDecision(d, abi::Level::kControl, os54->cmd);
      return RefuseInStatus(top, kStatus, d.answer.status);
    }
    // Serialized parameters carry nested data in a private format nvgate does
    // not decode, so it cannot vouch for them.
    const abi::Entry& ctrl = *d.entry;
    if (os54->flags & nv::kNvos54FlagsFinnSerialized) {
      Log(abi::Level::kControl, os54->cmd, "unsupported", ctrl.name,
          fmt::format("unsupported: control {} ({:#x}) with serialized (FINN) parameters, which nvgate does not "
                      "decode; refused",
                      ctrl.name, os54->cmd));
      return RefuseInStatus(top, kStatus, nv::kNvErrNotSupported);
    }
    // Without the size checks (the weakened build) the driver is handed the
    // workload's paramsSize and pointer as they came, while nvgate still
    // copies the row's size.
    const bool checked = defences::Kept(Defence::kSizeChecks);
    if (ctrl.param_size != 0 && os54->paramsSize != ctrl.param_size && checked) {
      return RefuseInStatus(top, kStatus, nv::kNvErrInvalidArgument);
    }
    // As the driver: a size needs a pointer and a pointer a size. Checked here
    // because nvgate never hands the driver a workload pointer.
    if ((os54->paramsSize != 0) != (os54->params != 0) && checked) {
      return RefuseInStatus(top, kStatus, nv::kNvErrInvalidArgument);
    }
    // A row without parameters takes what the workload names, within bounds.
    const std::uint32_t copied = ctrl.param_size != 0 ? ctrl.param_size : os54->paramsSize;
    if (copied > nv::kMaxParamCopySize) {
      return RefuseInStatus(top, kStatus, nv::kNvErrInvalidArgument);
    }
    return RunNested(top, offsetof(nv::NVOS54_PARAMETERS, params), copied, ctrl, kStatus);
  }

  // Copies the nested parameter struct a top-level struct points at, runs the
  // call with the pointer rewritten, and restores it.
  // `restore_top` undoes any other translation of `top` before it is written back.
  Reply RunNested(std::vector<std::byte>& top, std::uint32_t pointer_offset,
                  std::uint32_t nested_size, const abi::Entry& nested_entry,
                  std::uint32_t status_offset,
                  const std::function<void(std::span<std::byte>)>& restore_top = {}) {
    auto target_params = Load<std::uint64_t>(top, pointer_offset);
    std::vector<std::byte> params(target_params == 0 ? 0 : nested_size);
    if (!params.empty() && !memory_.Read(target_params, params.data(), params.size())) {
      return Fail(EFAULT);
    }
    if (OutsideGpus(nested_entry, params)) {
      return RefuseInStatus(top, status_offset, nv::kNvErrInsufficientPermissions);
    }
    FdSet fds;
    Marshal m(nested_entry.layout, memory_, files_, p_.clients_, fds);
    if (!params.empty()) {
      if (MarshalError e = m.In(params); e != MarshalError::kNone) {
        return MarshalFailure(e, m, top, status_offset);
      }
    }
    Store<std::uint64_t>(top, pointer_offset,
                         params.empty() ? 0 : reinterpret_cast<std::uintptr_t>(params.data()));
    Reply reply = Backend(top.data());
    Store<std::uint64_t>(top, pointer_offset, target_params);
    if (restore_top) restore_top(top);
    if (!params.empty()) {
      if (m.Out(params) != MarshalError::kNone) return Fail(EFAULT);
      if (!memory_.Write(target_params, params.data(), params.size())) return Fail(EFAULT);
    }
    return WriteBack(top, reply);
  }

  // NV_ESC_RM_ALLOC, short (NVOS21) or long (NVOS64) form.
  Reply RunAlloc() {
    bool long_form = size_ == sizeof(nv::NVOS64_PARAMETERS);
    if (!long_form && size_ != sizeof(nv::NVOS21_PARAMETERS) &&
        !SizeCheckDropped(sizeof(nv::NVOS21_PARAMETERS))) {
      return Fail(EINVAL);
    }
    std::vector<std::byte> top;
    if (!ReadTop(top)) return Fail(EFAULT);
    // The two forms share their first five fields.
    auto* head = reinterpret_cast<nv::NVOS21_PARAMETERS*>(top.data());
    std::uint32_t status_offset = long_form ? offsetof(nv::NVOS64_PARAMETERS, status)
                                            : offsetof(nv::NVOS21_PARAMETERS, status);
    const std::uint32_t cls = head->hClass;

    policy::Decision d = policy::Decide(p_.table_, abi::Level::kAlloc, cls, p_.enabled_);
    if (!Allowed(d)) {
      LogDecision(d, abi::Level::kAlloc, cls);
      return RefuseInStatus(top, status_offset, d.answer.status);
    }
    const abi::Entry& alloc = *d.entry;
    bool root = alloc.handler == abi::Handler::kRootClient;
    if (root != IsRootClientClass(cls)) {
      Log(abi::Level::kAlloc, cls, "unsupported", alloc.name,
          fmt::format("unsupported: alloc {} ({:#x}) {}; refused", alloc.name, cls,
                      root ? "is not a root-client class" : "allocates a client outside NV01_ROOT's row"));
      return RefuseInStatus(top, status_offset, nv::kNvErrInvalidClass);
    }
    if (!root && !p_.clients_.Owns(head->hRoot)) {
      Log(abi::Level::kAlloc, cls, "client", alloc.name,
          fmt::format("client: alloc {} names RM client {:#x} that this workload did not create; denied",
                      alloc.name, head->hRoot));
      return RefuseInStatus(top, status_offset, nv::kNvErrInvalidClient);
    }

    // pRightsRequested (long form) points at a 4-byte access mask.
    std::uint32_t rights = 0;
    std::uint64_t target_rights = 0;
    if (long_form) {
      auto* os64 = reinterpret_cast<nv::NVOS64_PARAMETERS*>(top.data());
      if (os64->flags != 0) return RefuseInStatus(top, status_offset, nv::kNvErrNotSupported);
      target_rights = os64->pRightsRequested;
      if (target_rights != 0) {
        if (!memory_.Read(target_rights, &rights, sizeof rights)) return Fail(EFAULT);
        os64->pRightsRequested = reinterpret_cast<std::uintptr_t>(&rights);
      }
    }
    if (!defences::Kept(Defence::kSingleFetch) && !ReadTop(top)) return Fail(EFAULT);
    // The driver copies the class's own parameter size, whatever paramsSize says.
    std::uint32_t nested_size = alloc.handler == abi::Handler::kNoParams ? 0 : alloc.param_size;
    if (alloc.handler == abi::Handler::kNoParams) head->pAllocParms = 0;
    Reply reply = RunNested(top, offsetof(nv::NVOS21_PARAMETERS, pAllocParms), nested_size,
                            alloc, status_offset, [&](std::span<std::byte> written) {
                              if (long_form) {
                                Store<std::uint64_t>(written,
                                                     offsetof(nv::NVOS64_PARAMETERS, pRightsRequested),
                                                     target_rights);
                              }
                            });
    if (root && reply.error == 0 && Load<std::uint32_t>(top, status_offset) == nv::kNvOk) {
      p_.clients_.Add(Load<std::uint32_t>(top, offsetof(nv::NVOS21_PARAMETERS, hObjectNew)));
    }
    return reply;
  }

  // Escapes that dispatch again on a field of their own struct
  // (NV_ESC_RM_ALLOC_MEMORY on hClass, NV_ESC_RM_VID_HEAP_CONTROL on function).
  Reply RunSubDispatched(abi::Level sub_level, std::uint32_t key_offset,
                         std::optional<std::uint32_t> status_offset) {
    std::vector<std::byte> top;
    if (!ReadTop(top)) return Fail(EFAULT);
    auto sub_key = Load<std::uint32_t>(top, key_offset);
    policy::Decision d = policy::Decide(p_.table_, sub_level, sub_key, p_.enabled_);
    if (!Allowed(d)) {
      LogDecision(d, sub_level, sub_key);
      if (d.answer.error != 0 || !status_offset) return Fail(d.answer.error ? d.answer.error : EINVAL);
      return RefuseInStatus(top, *status_offset, d.answer.status);
    }
    if (d.entry->handler == abi::Handler::kCallerMemory) return RunInCaller(top, *d.entry);
    return RunWithLayout(top, entry_->layout);
  }

  // NV_ESC_RM_ALLOC_MEMORY of a class the driver runs on its caller's own
  // memory (NV01_MEMORY_SYSTEM_OS_DESCRIPTOR: RmAllocOsDescriptor pins
  // pMemory..pMemory+limit of current->mm, escape.c:205 and os-mlock.c:224 at
  // 580.142). Decided here on the copy; the workload's own call then runs only
  // if its memory still holds exactly this copy (supervisor/caller_run.h).
  Reply RunInCaller(std::vector<std::byte>& top, const abi::Entry& sub) {
    constexpr std::uint32_t kStatus = offsetof(nv::NVOS02_PARAMETERS, status);
    const auto client = Load<std::uint32_t>(top, offsetof(nv::NVOS02_PARAMETERS, hRoot));
    if (!p_.clients_.Owns(client)) {
      Log(abi::Level::kAllocMemory, sub.key, "client", sub.name,
          fmt::format("client: alloc_memory {} names RM client {:#x} that this workload did not create; denied",
                      sub.name, client));
      return RefuseInStatus(top, kStatus, nv::kNvErrInvalidClient);
    }
    // The GPU may write memory pinned earlier whenever it likes, after every
    // check: parameters there could change between the check and the driver's
    // copy of them.
    if (p_.pinned_.Overlaps(call_.arg, call_.arg + top.size()) &&
        defences::Kept(Defence::kPinPrivateMemory)) {
      Log(abi::Level::kAllocMemory, sub.key, "pin", sub.name,
          "pin: alloc_memory " + sub.name + " with its parameters in host memory this workload pinned for the "
              "GPU, which could rewrite them after the check; refused");
      return RefuseInStatus(top, kStatus, nv::kNvErrNotSupported);
    }
    std::vector<std::byte> result(top.size());
    const auto driver_started =
        record_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    CallerRun run = files_.RunInCaller(call_, p_.backend_, top, result);
    if (!run.refused.empty()) {
      Log(abi::Level::kAllocMemory, sub.key, "pin", sub.name,
          "pin: alloc_memory " + sub.name + " cannot run in the workload's memory safely: " + run.refused +
              "; refused");
      return RefuseInStatus(top, kStatus, nv::kNvErrNotSupported);
    }
    if (record_) {
      record_->driver_return = static_cast<int>(run.value);
      record_->driver_time = std::chrono::steady_clock::now() - driver_started;
    }
    if (run.value == 0 && Load<std::uint32_t>(result, kStatus) == nv::kNvOk) {
      const auto begin = Load<std::uint64_t>(result, offsetof(nv::NVOS02_PARAMETERS, pMemory));
      const auto limit = Load<std::uint64_t>(result, offsetof(nv::NVOS02_PARAMETERS, limit));
      p_.pinned_.Add(client, Load<std::uint32_t>(result, offsetof(nv::NVOS02_PARAMETERS, hObjectNew)), begin,
                     begin + limit + 1);
    }
    // The driver wrote its results into the workload's memory itself.
    if (run.value >= 0) memory_.WrittenByDriver(call_.arg, result);
    Reply reply = run.value < 0 ? Fail(static_cast<int>(-run.value)) : Ok(run.value);
    reply.answered = run.answered;
    return reply;
  }

  Reply RunFree() {
    std::vector<std::byte> top;
    if (!ReadTop(top)) return Fail(EFAULT);
    auto* os00 = reinterpret_cast<nv::NVOS00_PARAMETERS*>(top.data());
    const std::uint32_t client = os00->hRoot;
    const bool frees_client = os00->hObjectOld == client;
    Reply reply = RunWithLayout(top, entry_->layout);
    if (reply.error == 0 && Load<std::uint32_t>(top, offsetof(nv::NVOS00_PARAMETERS, status)) == nv::kNvOk) {
      if (frees_client) {
        p_.clients_.Remove(client);
        p_.pinned_.ForgetClient(client);
      } else {
        p_.pinned_.Forget(client, Load<std::uint32_t>(top, offsetof(nv::NVOS00_PARAMETERS, hObjectOld)));
      }
    }
    return reply;
  }

  // UVM_INITIALIZE: the supervisor runs every UVM call for the workload, so the
  // va_space must not be bound to the supervisor's mm; the workload never sees
  // the flag it did not ask for.
  Reply RunUvmInitialize() {
    std::vector<std::byte> top;
    if (!ReadTop(top)) return Fail(EFAULT);
    auto* params = reinterpret_cast<nv::UVM_INITIALIZE_PARAMS*>(top.data());
    const nv::NvU64 requested = params->flags;
    params->flags = requested | nv::kUvmInitFlagsMultiProcessSharingMode;
    Reply reply = Backend(top.data());
    params->flags = requested;
    return WriteBack(top, reply);
  }

  // NV_ESC_EXPORT_TO_DMABUF_FD: fd -1 asks the driver for a new dma-buf fd,
  // which lands in the supervisor's table and must be installed into the
  // workload's.
  Reply RunExportDmabuf() {
    std::vector<std::byte> top;
    if (!ReadTop(top)) return Fail(EFAULT);
    auto target_fd = Load<std::int32_t>(top, 0);
    if (target_fd >= 0) return RunWithLayout(top, entry_->layout);

    std::vector<abi::LayoutItem> without_fd;
    for (const abi::LayoutItem& item : entry_->layout) {
      if (item.kind != abi::LayoutItem::Kind::kFd) without_fd.push_back(item);
    }
    FdSet fds;
    Marshal m(without_fd, memory_, files_, p_.clients_, fds);
    if (MarshalError e = m.In(top); e != MarshalError::kNone) {
      return MarshalFailure(e, m, top, m.StatusOffset());
    }
    Reply reply = Backend(top.data());
    auto new_fd = Load<std::int32_t>(top, 0);
    if (reply.error == 0 && new_fd >= 0) {
      fds.Adopt(fd::OwnedFd(new_fd));
      int installed = files_.Install(new_fd);
      if (installed < 0) return Fail(-installed);
      Store<std::int32_t>(top, 0, installed);
    }
    if (m.Out(top) != MarshalError::kNone) return Fail(EFAULT);
    return WriteBack(top, reply);
  }

  Proxy& p_;
  const Call& call_;
  TargetMemory& memory_;
  TargetFiles& files_;
  abi::Level level_ = abi::Level::kFrontend;
  std::uint32_t key_ = 0;
  std::uint32_t size_ = 0;
  const abi::Entry* entry_ = nullptr;
  CallRecord* record_ = nullptr;  // set only while an observer watches
  bool denied_ = false;           // the call was refused and logged
};

Proxy::Proxy(const abi::Table& table, caps::CapSet enabled, backend::Backend& backend,
             policy::DenialLog& denials)
    : table_(table), enabled_(enabled), backend_(backend), denials_(denials) {}

Reply Proxy::Execute(const Call& call, TargetMemory& memory, TargetFiles& files) {
  if (observer_ != nullptr) return ExecuteObserved(call, memory, files);
  return Execution(*this, call, memory, files).Run();
}

Reply Proxy::ExecuteObserved(const Call& call, TargetMemory& memory, TargetFiles& files) {
  CallRecord record{.pid = call.pid, .tid = call.tid, .device = call.device, .request = call.request};
  RecordingMemory recording(memory, call.arg, observer_->WantsParams());
  record.started = std::chrono::steady_clock::now();
  Reply reply = Execution(*this, call, recording, files).Run(record);
  record.duration = std::chrono::steady_clock::now() - record.started;
  record.value = reply.value;
  record.error = reply.error;
  recording.Complete(record, table_);
  observer_->Observe(record);
  return reply;
}

}  // namespace nvgate::proxy
