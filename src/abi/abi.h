// Driver ABI tables: for one NVIDIA driver branch, every command nvgate knows at
// each dispatch level, with the capabilities that reach it, the handler kind that
// executes it, and its parameter size.
//
// A table is data, compiled into the binary and parsed once: the base branch is
// a full table (src/abi/data/r580.tsv, one row per command), every other branch
// a delta from it (src/abi/data/r<branch>.delta.tsv: rows removed, changed and
// added, each for the whole branch or a range of its versions). Formats in
// docs/abi-tables.md. A command that has no row is unknown and refused (default
// deny).
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

#include "caps/caps.h"
#include "error/error.h"

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
  kCallerMemory,   // runs in the calling thread's own memory context (the driver pins
                   // pages of current->mm), with the workload's other tasks stopped
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
    kShare,      // an RS_SHARE_POLICY at `offset`: only shares within this workload pass
    kClientOrNull,    // as kClient, or 0 (NV01_NULL_OBJECT: no client)
    kCallerGpuFiles,  // no field: the driver checks the call against the GPU files its
                      // caller holds (osIsGpuAccessible), so the supervisor holds
                      // exactly the workload's own while it runs the call
  };
  Kind kind;
  std::uint32_t offset = 0;
  std::uint32_t count_offset = 0;
  std::uint32_t elem_size = 0;
  std::string field;        // driver field names, checked against the facts
  std::string count_field;
};

// Controls the open kernel module hands to the GSP firmware without reading
// them, so that its headers define neither their names nor their parameters:
// any control on an NV2081_BINAPI object (src/nvidia/src/kernel/rmapi/
// binary_api.c, binapiControl_IMPL), and the legacy GSS controls, command bit
// 15 (src/nvidia/interface/deprecated/rmapi_deprecated_control.c,
// IsGssLegacyCall; forwarded by rmapi_gss_legacy_control.c, RmGssLegacyRpcCmd).
// Their parameters go to the firmware as flat bytes. Rows for them name the
// size NVIDIA's own libraries were seen to pass on a real driver.
inline constexpr std::uint32_t kGssLegacyBit = 0x8000;
// Bits 15 and 14: a privileged legacy GSS control, which the driver allows
// only to a caller with RS_PRIV_LEVEL_USER_ROOT (rmapi_gss_legacy_control.c:56).
// nvgate's supervisor, not the workload, is that caller, so no row may allow one.
inline constexpr std::uint32_t kGssLegacyPrivilegedBits = 0xC000;
inline constexpr std::uint32_t kBinapiClass = 0x2081;
inline constexpr std::uint32_t kBinapiPrivilegedClass = 0x2082;
inline bool IsGspForwardedControl(Level level, std::uint32_t key) {
  return level == Level::kControl && ((key >> 16) == kBinapiClass || (key & kGssLegacyBit) != 0);
}

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
  // Parses a full table file. Errors name the line.
  static Result<Table> Parse(std::string_view text);
  // Builds a branch's tables from a full base table and a delta file: one table
  // per group of versions that the same delta lines apply to (usually one).
  // Errors name the line.
  static Result<std::vector<Table>> ParseDelta(const Table& base, std::string_view text);

  const Entry* Find(Level level, std::uint32_t key) const;
  // The row named `name` at `level`, or nullptr.
  const Entry* FindByName(Level level, std::string_view name) const;
  std::span<const Entry> entries() const { return entries_; }
  const std::string& branch() const { return branch_; }
  // The branch whose full table this one was derived from; empty for a full table.
  const std::string& base() const { return base_; }
  std::span<const std::string> versions() const { return versions_; }

 private:
  // Appends a row; fails on a key or name the level already has.
  Result<void> Add(Entry entry);

  std::string branch_;
  std::string base_;
  std::vector<std::string> versions_;
  std::vector<Entry> entries_;
  std::map<std::pair<Level, std::uint32_t>, std::size_t> index_;
  std::map<std::pair<Level, std::string>, std::size_t> name_index_;
};

// The layout column as the table writes it ("client:hClient@0;status:status@20", "-").
std::string FormatLayout(std::span<const LayoutItem> layout);
// The columns in which two rows for one command differ ("key", "caps", "handler",
// "struct", "size", "layout"); empty when they are the same.
std::vector<std::string> RowDifferences(const Entry& a, const Entry& b);

// Driver versions compare numerically part by part: 580.65.06 < 580.105.08.
// Returns <0, 0 or >0.
int CompareVersions(std::string_view a, std::string_view b);
// The branch of a driver version: "535" for "535.288.01".
std::string_view BranchOf(std::string_view version);

// The table for an exact driver version, or nullptr when it is not supported.
const Table* TableForVersion(std::string_view version);
// Every supported driver version, ascending.
std::vector<std::string> SupportedVersions();
// Every branch with a table, ascending ("535", "550", ...).
std::vector<std::string> SupportedBranches();
// The newest supported version of `branch`, or nullopt when the branch has none.
std::optional<std::string> NewestVersionOfBranch(std::string_view branch);

}  // namespace nvgate::abi
