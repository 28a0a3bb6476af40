// The workload's memory as the proxy sees it while a call is observed: reads
// and writes go through unchanged, and copies are kept for the CallRecord.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "proxy/call_record.h"
#include "proxy/proxy.h"

namespace nvgate::proxy {

class RecordingMemory final : public TargetMemory {
 public:
  // `top` is the call's argument pointer; `keep_all` keeps every copy, else
  // only the last write at `top` (where the status is read from).
  RecordingMemory(TargetMemory& memory, std::uint64_t top, bool keep_all)
      : memory_(memory), top_(top), keep_all_(keep_all) {}

  bool Read(std::uint64_t addr, void* out, std::size_t len) override;
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override;
  void WrittenByDriver(std::uint64_t addr, std::span<const std::byte> bytes) override;

  // Moves the copies into `record` and reads the status from the parameters
  // last written back, once `record`'s request fields are known.
  void Complete(CallRecord& record, const abi::Table& table);

 private:
  TargetMemory& memory_;
  std::uint64_t top_;
  bool keep_all_;
  std::vector<MemoryCopy> in_;
  std::vector<MemoryCopy> out_;
  std::optional<std::vector<std::byte>> last_top_write_;
};

}  // namespace nvgate::proxy
