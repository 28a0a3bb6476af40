// Marshalling of one parameter buffer according to its table layout: the
// translations a call needs on its way in to the driver and undoes on its way
// out. Written once, used for top-level escape structs and for nested control
// and alloc parameters alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "abi/abi.h"
#include "fd/owned_fd.h"
#include "proxy/proxy.h"

namespace nvgate::proxy {

// Reads and writes little-endian fields of a parameter copy.
template <typename T>
T Load(std::span<const std::byte> buf, std::size_t offset) {
  T v;
  std::memcpy(&v, buf.data() + offset, sizeof v);
  return v;
}
template <typename T>
void Store(std::span<std::byte> buf, std::size_t offset, T v) {
  std::memcpy(buf.data() + offset, &v, sizeof v);
}

// Owns the supervisor-side duplicates of fds found in parameters.
class FdSet {
 public:
  void Adopt(fd::OwnedFd fd) { fds_.push_back(std::move(fd)); }
  void Adopt(std::vector<fd::OwnedFd> fds) {
    for (fd::OwnedFd& fd : fds) fds_.push_back(std::move(fd));
  }

 private:
  std::vector<fd::OwnedFd> fds_;
};

enum class MarshalError : std::uint8_t {
  kNone,
  kFault,          // workload memory could not be read or written
  kBadFd,          // an fd in the parameters is not open in the workload
  kForeignClient,  // a client handle this workload did not create
  kTooLarge,       // a nested buffer over the bound
  kShareOutside,   // a share policy that would reach past this workload
};

// The translations applied to one buffer, kept to undo them.
class Marshal {
 public:
  Marshal(std::span<const abi::LayoutItem> layout, TargetMemory& memory, TargetFiles& files,
          const ClientRegistry& clients, FdSet& fds)
      : layout_(layout), memory_(memory), files_(files), clients_(clients), fds_(fds) {}

  // Checks clients, duplicates fds, deep-copies nested buffers and points the
  // copy at them. On error nothing of `params` needs undoing.
  MarshalError In(std::span<std::byte> params);

  // Copies nested buffers back to the workload and restores its pointer and fd
  // values in `params`, ready to be written back.
  MarshalError Out(std::span<std::byte> params);

  // Offset of the status field, when the layout names one.
  std::optional<std::uint32_t> StatusOffset() const;

  // The client handle that failed the ownership check, for the log.
  std::uint32_t foreign_client() const { return foreign_client_; }
  // The share type that was refused, for the log.
  std::uint16_t refused_share_type() const { return refused_share_type_; }

 private:
  struct Undo {
    std::uint32_t offset;
    std::uint64_t original;
    std::uint8_t width;
  };
  struct Nested {
    std::uint64_t target_addr;
    std::vector<std::byte> data;
  };

  std::span<const abi::LayoutItem> layout_;
  TargetMemory& memory_;
  TargetFiles& files_;
  const ClientRegistry& clients_;
  FdSet& fds_;
  std::vector<Undo> undo_;
  std::vector<Nested> nested_;
  std::uint32_t foreign_client_ = 0;
  std::uint16_t refused_share_type_ = 0;
};

}  // namespace nvgate::proxy
