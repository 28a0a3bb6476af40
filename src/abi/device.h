// The kinds of NVIDIA device file a workload can issue commands on.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "names/names.h"

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

// Each kind's name in traces and messages, in the enum's order: for writing
// names and reading them back.
inline constexpr std::array<std::string_view, 7> kDeviceKindNames = {
    "not-nvidia", "nvidiactl", "nvidia-gpu", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", "nvidia-caps",
};

constexpr std::string_view DeviceKindName(DeviceKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  return index < kDeviceKindNames.size() ? kDeviceKindNames[index] : "?";
}

constexpr std::optional<DeviceKind> DeviceKindFromName(std::string_view name) {
  return names::FromName<DeviceKind>(kDeviceKindNames, name);
}

// Whether the frontend (nvidiactl / nvidia#) dispatches ioctls on this device.
constexpr bool IsFrontend(DeviceKind kind) {
  return kind == DeviceKind::kCtl || kind == DeviceKind::kGpu;
}

}  // namespace nvgate::abi
