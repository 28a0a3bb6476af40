// Driver ABI tables: for one NVIDIA driver branch, every command nvgate knows at
// each dispatch level, with the capabilities that reach it, the handler kind that
// executes it, and its parameter size.
//
// A table is data (src/abi/data/r<branch>.tsv, one row per command; format in
// docs/abi-tables.md), compiled into the binary and parsed once. A command that
// has no row is unknown and refused (default deny).
//
//   const abi::Table* t = abi::TableForVersion("580.159.04");
//   const abi::Entry* e = t->Find(abi::Level::kControl, 0x20800102);
//   if (e && e->mask.Reachable(enabled)) ...
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "caps/caps.h"

namespace nvgate::abi {

// Where a command is dispatched. The first four are the driver's own dispatch
// points; the last two are sub-dispatch inside one frontend escape.
enum class Level : std::uint8_t {
  kFrontend,     // _IOC_NR of an ioctl on nvidiactl or nvidia#
  kUvm,          // the whole 32-bit request on nvidia-uvm
  kControl,      // NVOS54.cmd of NV_ESC_RM_CONTROL
  kAlloc,        // NVOS21/64.hClass of NV_ESC_RM_ALLOC
  kAllocMemory,  // NVOS02.hClass of NV_ESC_RM_ALLOC_MEMORY
  kVidHeap,      // NVOS32.function of NV_ESC_RM_VID_HEAP_CONTROL
};
inline constexpr int kLevelCount = 6;
std::string_view LevelName(Level level);  // "frontend", "uvm", "control", ...
std::optional<Level> LevelFromName(std::string_view name);

// The closed set of ways a command is executed. Each kind is written once in
// src/proxy and tested once.
enum class Handler : std::uint8_t {
  kDeny,           // never executed, whatever the capabilities
  kSimple,         // fixed-size parameters, copied in and out (plus the layout items)
  kNoParams,       // no parameters
  kBytes,          // variable-size byte array, size taken from the request
  kRmControl,      // NV_ESC_RM_CONTROL: dispatch on cmd to the control level
  kRmAlloc,        // NV_ESC_RM_ALLOC: dispatch on hClass to the alloc level
  kRmAllocMemory,  // NV_ESC_RM_ALLOC_MEMORY: dispatch on hClass, map fd translated
  kRmVidHeap,      // NV_ESC_RM_VID_HEAP_CONTROL: dispatch on function
  kRmFree,         // NV_ESC_RM_FREE: client ownership upkeep
  kRootClient,     // alloc of NV01_ROOT*: the new client is recorded as this workload's
  kUvmInitialize,  // UVM_INITIALIZE: multi-process sharing mode forced and hidden
  kExportDmabuf,   // NV_ESC_EXPORT_TO_DMABUF_FD: new fd installed into the workload
};
std::string_view HandlerName(Handler handler);
std::optional<Handler> HandlerFromName(std::string_view name);

// Which capabilities reach an entry. The base tier is what every non-empty
// capability set gets (version check, card info, root client, device objects...).
struct Mask {
  caps::CapSet caps;
  bool base = false;
  bool Reachable(caps::CapSet enabled) const {
    return (base && !enabled.empty()) || caps.Intersects(enabled);
  }
  bool Never() const { return !base && caps.empty(); }
  std::string ToString() const;  // "base", "compute,utility", "-" for never
};

// A piece of the parameters beyond the fixed-size struct that the proxy must
// translate: an fd to swap for the supervisor's duplicate, a nested buffer to
// deep-copy, a pointer that must be NULL.
struct LayoutItem {
  enum class Kind : std::uint8_t {
    kFd,         // 32-bit fd at `offset`
    kInOut,      // pointer at `offset` to count(u32 at `count_offset`) * elem_size bytes
    kOut,        // as kInOut, but the driver does not read it: zero-filled, copied out
    kInOutSquare,// as kInOut with count squared (per GPU pair tables)
    kNull,       // pointer at `offset` must be NULL; it is forced to NULL
    kClient,     // 32-bit RM client handle at `offset` that must be this workload's
    kStatus,     // the 32-bit NV_STATUS field where a refusal is reported
  };
  Kind kind;
  std::uint32_t offset = 0;
  std::uint32_t count_offset = 0;
  std::uint32_t elem_size = 0;
  std::string field;        // driver field names, checked against the facts
  std::string count_field;
};

struct Entry {
  Level level;
  std::uint32_t key;         // frontend nr, UVM request, control cmd, class, function
  std::string name;          // the driver's name: NV2080_CTRL_CMD_GPU_GET_INFO_V2
  Mask mask;
  Handler handler;
  std::string param_struct;  // the driver's struct name, "" for none
  std::uint32_t param_size;  // sizeof(param_struct); 0 for none or variable
  std::vector<LayoutItem> layout;
};

class Table {
 public:
  // Parses a table file. Errors name the line.
  static tl::expected<Table, std::string> Parse(std::string_view text);

  const Entry* Find(Level level, std::uint32_t key) const;
  std::span<const Entry> entries() const { return entries_; }
  const std::string& branch() const { return branch_; }
  std::span<const std::string> versions() const { return versions_; }

 private:
  std::string branch_;
  std::vector<std::string> versions_;
  std::vector<Entry> entries_;
  std::map<std::pair<Level, std::uint32_t>, std::size_t> index_;
};

// The table for an exact driver version, or nullptr when it is not supported.
const Table* TableForVersion(std::string_view version);
// Every supported driver version, ascending.
std::vector<std::string> SupportedVersions();

}  // namespace nvgate::abi
