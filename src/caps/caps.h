// NVIDIA driver capabilities: names, sets, and resolution of NVIDIA_DRIVER_CAPABILITIES.
//
//   auto allowed = caps::ParseList("compute,utility,video");          // operator bound
//   auto enabled = caps::Resolve(getenv("NVIDIA_DRIVER_CAPABILITIES"),  // workload request
//                                allowed->named);
//   if (!enabled) die(enabled.error());   // names the offending capability
//
// Parsing follows the NVIDIA container toolkit: comma-separated, whitespace around
// names ignored, empty items skipped, names are lowercase and case-sensitive,
// "all" means every non-privileged capability. nvgate adds the privileged names
// gVisor defined (profiling, fabric-imex-mgmt, rdma), which "all" never includes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "error/error.h"

namespace nvgate::caps {

enum class Capability : std::uint8_t {
  kCompute,
  kUtility,
  kGraphics,
  kVideo,
  kDisplay,
  kNgx,
  kCompat32,
  kProfiling,
  kFabricImexMgmt,
  kRdma,
};
inline constexpr int kCapabilityCount = 10;

// The name as written in NVIDIA_DRIVER_CAPABILITIES ("fabric-imex-mgmt").
std::string_view Name(Capability cap);
std::optional<Capability> FromName(std::string_view name);
// Privileged capabilities are never part of "all" and must be named explicitly.
bool IsPrivileged(Capability cap);

class CapSet {
 public:
  constexpr CapSet() = default;
  constexpr CapSet(std::initializer_list<Capability> caps) {
    for (Capability c : caps) bits_ |= Bit(c);
  }
  static constexpr CapSet FromBits(std::uint16_t bits) {
    CapSet s;
    s.bits_ = bits & kValidBits;
    return s;
  }
  // Every non-privileged capability: what "all" expands to.
  static CapSet AllUnprivileged();
  // Every capability, privileged ones included.
  static constexpr CapSet Everything() { return FromBits(kValidBits); }
  // What an unset or empty NVIDIA_DRIVER_CAPABILITIES means.
  static constexpr CapSet Default() { return {Capability::kUtility, Capability::kCompute}; }

  constexpr bool Has(Capability c) const { return (bits_ & Bit(c)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool Intersects(CapSet o) const { return (bits_ & o.bits_) != 0; }
  constexpr bool IsSubsetOf(CapSet o) const { return (bits_ & ~o.bits_) == 0; }
  constexpr std::uint16_t bits() const { return bits_; }
  constexpr CapSet operator|(CapSet o) const { return FromBits(bits_ | o.bits_); }
  constexpr CapSet operator&(CapSet o) const { return FromBits(bits_ & o.bits_); }
  constexpr CapSet operator-(CapSet o) const { return FromBits(bits_ & ~o.bits_); }
  constexpr bool operator==(const CapSet&) const = default;

  // Canonical, comma-separated, in declaration order; "" for the empty set.
  std::string ToString() const;

 private:
  static constexpr std::uint16_t Bit(Capability c) {
    return static_cast<std::uint16_t>(1u << static_cast<unsigned>(c));
  }
  static constexpr std::uint16_t kValidBits = (1u << kCapabilityCount) - 1;
  std::uint16_t bits_ = 0;
};

struct ParsedList {
  CapSet named;      // the capabilities written out by name
  bool all = false;  // whether the token "all" appeared
};

// Parses a capability list. Errors name the offending token.
Result<ParsedList> ParseList(std::string_view text);

// Parses an operator's allowed bound: "all" expands to every non-privileged
// capability, privileged ones must be named.
Result<CapSet> ParseAllowed(std::string_view text);

// Resolves a workload's request under the operator's allowed bound, as the
// NVIDIA container toolkit resolves NVIDIA_DRIVER_CAPABILITIES:
//  - unset: utility,compute; on a legacy CUDA image (CUDA_VERSION set,
//    NVIDIA_REQUIRE_CUDA unset) the toolkit grants everything, read here as "all";
//  - set but empty (or only separators): utility,compute;
//  - "all": every non-privileged capability the bound allows, plus any
//    privileged ones named next to it;
//  - a name the bound does not allow: an error naming it (the toolkit would
//    drop it silently; a security tool must not).
Result<CapSet> Resolve(std::optional<std::string_view> requested, CapSet allowed, bool legacy_image = false);

}  // namespace nvgate::caps
