#include "trace/observe_only.h"

#include <linux/ioctl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "abi/nv_structs.h"
#include "policy/policy.h"
#include "proxy/marshal.h"
#include "proxy/recording_memory.h"

namespace nvgate::trace {
namespace {

// Where an escape that dispatches again keeps its inner key, as the proxy
// reads it (src/proxy/proxy.cc): a control's cmd, an alloc's class (both alloc
// forms share their first five fields), NV_ESC_RM_ALLOC_MEMORY's class,
// NV_ESC_RM_VID_HEAP_CONTROL's function.
struct InnerKey {
  abi::Level level;
  std::size_t offset;
};

std::optional<InnerKey> InnerKeyOf(abi::Handler handler) {
  switch (handler) {
    case abi::Handler::kRmControl:
      return InnerKey{abi::Level::kControl, offsetof(nv::NVOS54_PARAMETERS, cmd)};
    case abi::Handler::kRmAlloc:
      return InnerKey{abi::Level::kAlloc, offsetof(nv::NVOS21_PARAMETERS, hClass)};
    case abi::Handler::kRmAllocMemory:
      return InnerKey{abi::Level::kAllocMemory, offsetof(nv::NVOS02_PARAMETERS, hClass)};
    case abi::Handler::kRmVidHeap:
      return InnerKey{abi::Level::kVidHeap, offsetof(nv::NVOS32_PARAMETERS, function)};
    default:
      return std::nullopt;
  }
}

}  // namespace

void ObserveOnlyExecutor::Decode(const proxy::Call& call, proxy::TargetMemory& memory,
                                 proxy::CallRecord& record) const {
  if (call.device == abi::DeviceKind::kUvm) {
    record.request_level = abi::Level::kUvm;
    record.request_key = call.request;
  } else {
    // Frontend nodes, and the nodes nvgate has no table for, whose requests
    // the proxy decodes the same way before refusing them.
    record.request_level = abi::Level::kFrontend;
    record.request_key = _IOC_NR(call.request);
    record.size = _IOC_SIZE(call.request);
  }
  if (!abi::IsFrontend(call.device) && call.device != abi::DeviceKind::kUvm) {
    record.decision = policy::Decision{.verdict = policy::Verdict::kUnknown,
                                       .entry = nullptr,
                                       .answer = policy::DenialAnswer(record.request_level)};
    return;
  }
  record.decision = policy::Decide(table_, record.request_level, record.request_key, decided_under_);
  const abi::Entry* entry = table_.Find(record.request_level, record.request_key);
  if (entry == nullptr) return;
  if (record.request_level == abi::Level::kUvm) record.size = entry->param_size;
  if (record.size == 0 || record.size > nv::kMaxIoctlSize) return;

  std::vector<std::byte> top(record.size);
  if (!memory.Read(call.arg, top.data(), top.size())) return;
  std::optional<InnerKey> inner = InnerKeyOf(entry->handler);
  if (!inner || inner->offset + sizeof(std::uint32_t) > top.size()) return;
  const auto key = proxy::Load<std::uint32_t>(top, inner->offset);
  record.decision = policy::Decide(table_, inner->level, key, decided_under_);

  // With parameters, a control's and an alloc's nested struct too, as far as
  // the row describes it (a control row without a size: what the call names).
  if (!observer_.WantsParams()) return;
  const abi::Entry* nested = table_.Find(inner->level, key);
  std::uint64_t pointer = 0;
  std::uint32_t nested_size = 0;
  if (inner->level == abi::Level::kControl) {
    pointer = proxy::Load<std::uint64_t>(top, offsetof(nv::NVOS54_PARAMETERS, params));
    nested_size = nested != nullptr && nested->param_size != 0
                      ? nested->param_size
                      : proxy::Load<std::uint32_t>(top, offsetof(nv::NVOS54_PARAMETERS, paramsSize));
  } else if (inner->level == abi::Level::kAlloc && nested != nullptr) {
    pointer = proxy::Load<std::uint64_t>(top, offsetof(nv::NVOS21_PARAMETERS, pAllocParms));
    nested_size = nested->param_size;
  }
  nested_size = std::min(nested_size, nv::kMaxParamCopySize);
  if (pointer != 0 && nested_size != 0) {
    std::vector<std::byte> params(nested_size);
    (void)memory.Read(pointer, params.data(), params.size());  // a bad pointer is the driver's to answer
  }
}

proxy::Reply ObserveOnlyExecutor::Execute(const proxy::Call& call, proxy::TargetMemory& memory,
                                          proxy::TargetFiles& files) {
  proxy::CallRecord record{.pid = call.pid, .tid = call.tid, .device = call.device, .request = call.request};
  record.started = std::chrono::steady_clock::now();
  proxy::RecordingMemory recording(memory, call.arg, observer_.WantsParams());
  Decode(call, recording, record);
  proxy::Reply reply{.run_natively = true};
  if (fallback_ != nullptr) {
    reply = fallback_->Execute(call, memory, files);
    record.value = reply.value;
    record.error = reply.error;
  }
  record.duration = std::chrono::steady_clock::now() - record.started;
  recording.Complete(record, table_);
  observer_.Observe(record);
  return reply;
}

}  // namespace nvgate::trace
