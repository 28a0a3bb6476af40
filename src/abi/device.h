// The kinds of NVIDIA device file a workload can issue commands on.
#pragma once

#include <cstdint>
#include <string_view>

namespace nvgate::abi {

enum class DeviceKind : std::uint8_t {
  kNotNvidia,  // any other file: trapped calls on it are refused, never continued
  kCtl,        // /dev/nvidiactl
  kGpu,        // /dev/nvidia0 ... /dev/nvidia247
  kUvm,        // /dev/nvidia-uvm
  kUvmTools,   // /dev/nvidia-uvm-tools
  kModeset,    // /dev/nvidia-modeset
  kCaps,       // /dev/nvidia-caps/*
};

constexpr std::string_view DeviceKindName(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kNotNvidia: return "not-nvidia";
    case DeviceKind::kCtl: return "nvidiactl";
    case DeviceKind::kGpu: return "nvidia-gpu";
    case DeviceKind::kUvm: return "nvidia-uvm";
    case DeviceKind::kUvmTools: return "nvidia-uvm-tools";
    case DeviceKind::kModeset: return "nvidia-modeset";
    case DeviceKind::kCaps: return "nvidia-caps";
  }
  return "?";
}

// Whether the frontend (nvidiactl / nvidia#) dispatches ioctls on this device.
constexpr bool IsFrontend(DeviceKind kind) {
  return kind == DeviceKind::kCtl || kind == DeviceKind::kGpu;
}

}  // namespace nvgate::abi
