#include "proxy/marshal.h"

#include <utility>

#include "abi/nv_structs.h"
#include "defences/defences.h"

namespace nvgate::proxy {

using defences::Defence;

MarshalError Marshal::In(std::span<std::byte> params) {
  using Kind = abi::LayoutItem::Kind;
  // The caller's GPU files first: the gate is taken before any other file of
  // the workload is duplicated for this call.
  for (const abi::LayoutItem& item : layout_) {
    if (item.kind != Kind::kCallerGpuFiles) continue;
    std::vector<fd::OwnedFd> gpu_files;
    int rc = files_.HoldCallerGpuFiles(gpu_files);
    fds_.Adopt(std::move(gpu_files));
    if (rc < 0) return MarshalError::kBadFd;
  }
  for (const abi::LayoutItem& item : layout_) {
    switch (item.kind) {
      case Kind::kStatus:
      case Kind::kCallerGpuFiles:
        break;
      case Kind::kClient:
      case Kind::kClientOrNull: {
        auto client = Load<std::uint32_t>(params, item.offset);
        // NV01_NULL_OBJECT names no client: the driver then uses its default.
        if (item.kind == Kind::kClientOrNull && client == 0) break;
        if (!clients_.Owns(client)) {
          foreign_client_ = client;
          return MarshalError::kForeignClient;
        }
        break;
      }
      case Kind::kShare: {
        // RM sees every sandbox's calls as nvgate's own process: sharing by
        // pid, security token, GPU or with everyone would reach other
        // sandboxes. A share with one of this workload's clients, and taking a
        // policy back, stay inside it.
        nv::RS_SHARE_POLICY policy;
        std::memcpy(&policy, params.data() + item.offset, sizeof policy);
        bool revoke = (policy.action & nv::kRsShareActionFlagRevoke) != 0;
        bool own_client = policy.type == nv::kRsShareTypeClient && clients_.Owns(policy.target);
        if (!revoke && !own_client && defences::Kept(Defence::kSharePolicyCheck)) {
          refused_share_type_ = policy.type;
          return MarshalError::kShareOutside;
        }
        break;
      }
      case Kind::kFd: {
        auto target_fd = Load<std::int32_t>(params, item.offset);
        // A negative fd names no file in any process: the driver refuses it, or
        // ignores it where the call does not use the fd (an unmapped memory alloc).
        if (target_fd < 0) break;
        int dup = files_.Duplicate(target_fd);
        if (dup < 0) return MarshalError::kBadFd;
        fds_.Adopt(fd::OwnedFd(dup));
        undo_.push_back({item.offset, static_cast<std::uint32_t>(target_fd), 4});
        Store<std::int32_t>(params, item.offset, dup);
        break;
      }
      case Kind::kNull: {
        auto original = Load<std::uint64_t>(params, item.offset);
        undo_.push_back({item.offset, original, 8});
        Store<std::uint64_t>(params, item.offset, 0);
        break;
      }
      case Kind::kInOut:
      case Kind::kOut:
      case Kind::kInOutSquare: {
        auto addr = Load<std::uint64_t>(params, item.offset);
        std::uint64_t count = Load<std::uint32_t>(params, item.count_offset);
        if (item.kind == Kind::kInOutSquare) count *= count;
        std::uint64_t bytes = count * item.elem_size;  // < 2^64: count < 2^64 / 2^32
        // A NULL pointer means the same thing in every address space; the
        // driver decides what it means.
        if (addr == 0 || bytes == 0) break;
        if (bytes > nv::kMaxParamCopySize) return MarshalError::kTooLarge;
        Nested nested{addr, std::vector<std::byte>(bytes)};
        if (item.kind != Kind::kOut && !memory_.Read(addr, nested.data.data(), bytes)) {
          return MarshalError::kFault;
        }
        undo_.push_back({item.offset, addr, 8});
        Store<std::uint64_t>(params, item.offset,
                             reinterpret_cast<std::uintptr_t>(nested.data.data()));
        nested_.push_back(std::move(nested));
        break;
      }
    }
  }
  return MarshalError::kNone;
}

MarshalError Marshal::Out(std::span<std::byte> params) {
  MarshalError result = MarshalError::kNone;
  for (const Nested& nested : nested_) {
    if (!memory_.Write(nested.target_addr, nested.data.data(), nested.data.size())) {
      result = MarshalError::kFault;
    }
  }
  for (const Undo& undo : undo_) {
    if (undo.width == 4) {
      Store<std::uint32_t>(params, undo.offset, static_cast<std::uint32_t>(undo.original));
    } else {
      Store<std::uint64_t>(params, undo.offset, undo.original);
    }
  }
  return result;
}

std::optional<std::uint32_t> Marshal::StatusOffset() const {
  for (const abi::LayoutItem& item : layout_) {
    if (item.kind == abi::LayoutItem::Kind::kStatus) return item.offset;
  }
  return std::nullopt;
}

}  // namespace nvgate::proxy
