// Workload memories for running the proxy outside a supervisor: in tests,
// fuzzers and benchmarks.
//
//   proxy::SelfMemory self;                  // the "workload" is this process
//   proxy::RecordedMemory replay(call.in);   // what a trace recorded the call read
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "proxy/call_record.h"
#include "proxy/proxy.h"

namespace nvgate::proxy {

// Addresses are this process's own pointers.
class SelfMemory : public TargetMemory {
 public:
  bool Read(std::uint64_t addr, void* out, std::size_t len) override {
    std::memcpy(out, reinterpret_cast<const void*>(addr), len);
    return true;
  }
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override {
    std::memcpy(reinterpret_cast<void*>(addr), in, len);
    return true;
  }
};

// The workload's memory during one recorded call: a read of exactly a
// recorded copy gets its bytes; any other read fails, or with `zero_fill`
// reads zeros. Every write is kept in `writes`.
class RecordedMemory : public TargetMemory {
 public:
  explicit RecordedMemory(const std::vector<MemoryCopy>& reads, bool zero_fill = false)
      : reads_(reads), zero_fill_(zero_fill) {}
  bool Read(std::uint64_t addr, void* out, std::size_t len) override {
    for (const MemoryCopy& c : reads_) {
      if (c.addr == addr && c.bytes.size() == len) {
        std::memcpy(out, c.bytes.data(), len);
        return true;
      }
    }
    if (zero_fill_) std::memset(out, 0, len);
    return zero_fill_;
  }
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override {
    const auto* bytes = static_cast<const std::byte*>(in);
    writes.push_back({addr, {bytes, bytes + len}});
    return true;
  }
  // What the driver wrote itself counts as written: a trace recorded it so.
  void WrittenByDriver(std::uint64_t addr, std::span<const std::byte> bytes) override {
    writes.push_back({addr, {bytes.begin(), bytes.end()}});
  }
  std::vector<MemoryCopy> writes;

 private:
  const std::vector<MemoryCopy>& reads_;
  const bool zero_fill_;
};

// TargetFiles::RunInCaller for a "workload" that is this process: the backend
// runs the call on the checked copy, which `result` receives (the sim pins
// this process's own pages).
inline CallerRun RunOnTheCheckedCopy(const Call& call, backend::Backend& backend, std::span<const std::byte> checked,
                                     std::span<std::byte> result) {
  std::copy(checked.begin(), checked.end(), result.begin());
  CallerRun run;
  run.value = backend.Ioctl(call.fd, call.device, call.request, result.data(), call.tid);
  return run;
}

}  // namespace nvgate::proxy
