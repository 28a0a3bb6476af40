// The simulated GPUs' identity, shared by the driver model (sim_driver.cc) and
// the driver files the sandbox offers (sim_driver_files.cc), which must agree:
// the libraries match the PCI functions they find in sysfs against what
// CARD_INFO answers.
#pragma once

#include <cstdint>

namespace nvgate::backend {

// RM's gpuId of GPU `index` is kFirstSimGpuId + index.
inline constexpr std::uint32_t kFirstSimGpuId = 0x100;

inline constexpr std::uint16_t kNvidiaVendorId = 0x10de;
inline constexpr std::uint16_t kH100DeviceId = 0x2330;
inline constexpr std::uint16_t kH100SubsystemId = 0x16c1;
inline constexpr std::uint8_t kH100RevisionId = 0xa1;

// GPU `index` sits at PCI 0000:BB:00.0, BB = kFirstSimGpuBus + index.
inline constexpr std::uint8_t kFirstSimGpuBus = 0x18;
// Its BAR0 (registers) and BAR1 (framebuffer aperture), as CARD_INFO reports them.
inline constexpr std::uint64_t SimGpuRegAddress(unsigned index) { return 0xa0000000ull + (std::uint64_t{index} << 24); }
inline constexpr std::uint64_t kSimGpuRegSize = 16 << 20;
inline constexpr std::uint64_t SimGpuFbAddress(unsigned index) {
  return 0x200000000000ull + (std::uint64_t{index} << 37);
}
inline constexpr std::uint64_t kSimGpuFbSize = 128ull << 30;
// BAR2 (instance memory) follows BAR1, as on the H200 run 2 saw; its size is
// the H200's (docs/gpu-validation.md). There is no I/O BAR (BAR3).
inline constexpr std::uint64_t SimGpuInstAddress(unsigned index) { return SimGpuFbAddress(index) + kSimGpuFbSize; }
inline constexpr std::uint64_t kSimGpuInstSize = 32 << 20;

}  // namespace nvgate::backend
