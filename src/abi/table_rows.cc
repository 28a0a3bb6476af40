// The rows of a full table, and the layout items that end them.
#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <vector>

#include "abi/abi.h"
#include "abi/nv_structs.h"
#include "abi/table_grammar.h"

namespace nvgate::abi {
namespace {


// What follows a layout item's kind: nothing, one field (name@offset), or a
// pointer, its count and the element size (ptr@offset:count@offset:size).
enum class LayoutFields : std::uint8_t { kNone, kOne, kArray };

struct LayoutKindName {
  LayoutItem::Kind kind;
  std::string_view name;
  LayoutFields fields;
};

// Each kind's name in a row, for both reading and writing layouts.
constexpr std::array<LayoutKindName, 10> kLayoutKinds = {{
    {LayoutItem::Kind::kFd, "fd", LayoutFields::kOne},
    {LayoutItem::Kind::kInOut, "inout", LayoutFields::kArray},
    {LayoutItem::Kind::kOut, "out", LayoutFields::kArray},
    {LayoutItem::Kind::kInOutSquare, "square", LayoutFields::kArray},
    {LayoutItem::Kind::kNull, "null", LayoutFields::kOne},
    {LayoutItem::Kind::kClient, "client", LayoutFields::kOne},
    {LayoutItem::Kind::kStatus, "status", LayoutFields::kOne},
    {LayoutItem::Kind::kShare, "share", LayoutFields::kOne},
    {LayoutItem::Kind::kClientOrNull, "client_or_null", LayoutFields::kOne},
    {LayoutItem::Kind::kCallerGpuFiles, "caller_gpu_files", LayoutFields::kNone},
}};

const LayoutKindName& LayoutKind(LayoutItem::Kind kind) {
  return *std::find_if(kLayoutKinds.begin(), kLayoutKinds.end(),
                       [&](const LayoutKindName& k) { return k.kind == kind; });
}

}  // namespace

namespace grammar {
namespace {

std::optional<std::uint32_t> ParseNumber(std::string_view s, int base) {
  if (base == 16) {
    if (!s.starts_with("0x")) return std::nullopt;
    s.remove_prefix(2);
  }
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

Result<Mask> ParseMask(std::string_view text) {
  Mask mask;
  if (text == "-") return mask;
  for (std::string_view name : Split(text, ',')) {
    if (name == "base") {
      mask.base = true;
    } else if (auto cap = caps::FromName(name)) {
      mask.caps = mask.caps | caps::CapSet{*cap};
    } else {
      return Err("unknown capability \"" + std::string(name) + "\"");
    }
  }
  return mask;
}

// "name@offset"
Result<std::pair<std::string, std::uint32_t>> ParseField(std::string_view s) {
  std::size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0) {
    return Err("layout field \"" + std::string(s) + "\" is not name@offset");
  }
  auto offset = ParseNumber(s.substr(at + 1), 10);
  if (!offset) return Err("bad offset in layout field \"" + std::string(s) + "\"");
  return std::make_pair(std::string(s.substr(0, at)), *offset);
}

Result<LayoutItem> ParseLayoutItem(std::string_view text) {
  std::vector<std::string_view> parts = Split(text, ':');
  std::string_view kind = parts[0];
  auto named = std::find_if(kLayoutKinds.begin(), kLayoutKinds.end(),
                            [&](const LayoutKindName& k) { return k.name == kind; });
  if (named == kLayoutKinds.end()) return Err("unknown layout item kind \"" + std::string(kind) + "\"");
  LayoutItem item{};
  item.kind = named->kind;
  if (named->fields == LayoutFields::kNone) {
    if (parts.size() != 1) return Err("layout item \"" + std::string(text) + "\" takes no field");
    return item;
  }
  if (named->fields == LayoutFields::kOne) {
    if (parts.size() != 2) return Err("layout item \"" + std::string(text) + "\" needs one field");
    auto field = ParseField(parts[1]);
    if (!field) return tl::unexpected(field.error());
    item.field = field->first;
    item.offset = field->second;
    return item;
  }
  if (parts.size() != 4) {
    return Err("layout item \"" + std::string(text) + "\" needs ptr@off:count@off:elem");
  }
  auto ptr = ParseField(parts[1]);
  if (!ptr) return tl::unexpected(ptr.error());
  auto count = ParseField(parts[2]);
  if (!count) return tl::unexpected(count.error());
  auto elem = ParseNumber(parts[3], 10);
  if (!elem || *elem == 0) return Err("bad element size in \"" + std::string(text) + "\"");
  item.field = ptr->first;
  item.offset = ptr->second;
  item.count_field = count->first;
  item.count_offset = count->second;
  item.elem_size = *elem;
  return item;
}

// Which handler kinds make sense at which level; anything else is a table defect.
bool HandlerFitsLevel(Handler handler, Level level) {
  switch (handler) {
    case Handler::kDeny:
    case Handler::kSimple:
      return true;
    case Handler::kNoParams:
      return level == Level::kUvm || level == Level::kAlloc || level == Level::kControl;
    case Handler::kBytes:
    case Handler::kRmControl:
    case Handler::kRmAlloc:
    case Handler::kRmAllocMemory:
    case Handler::kRmVidHeap:
    case Handler::kRmFree:
    case Handler::kExportDmabuf:
      return level == Level::kFrontend;
    case Handler::kRootClient:
      return level == Level::kAlloc;
    case Handler::kUvmInitialize:
      return level == Level::kUvm;
    case Handler::kCallerMemory:
      return level == Level::kAllocMemory;
  }
  return false;
}

}  // namespace

Result<Entry> ParseRow(std::string_view line) {
  std::vector<std::string_view> cols = Split(line, '\t');
  if (cols.size() != 8) {
    return Err("expected 8 tab-separated columns, found " + std::to_string(cols.size()));
  }
  Entry e{};
  auto level = LevelFromName(cols[0]);
  if (!level) return Err("unknown level \"" + std::string(cols[0]) + "\"");
  e.level = *level;
  e.name = std::string(cols[1]);
  if (e.name.empty()) return Err("empty name");
  auto key = ParseNumber(cols[2], 16);
  if (!key) return Err("key \"" + std::string(cols[2]) + "\" is not 0x-hex");
  e.key = *key;
  auto mask = ParseMask(cols[3]);
  if (!mask) return tl::unexpected(mask.error());
  e.mask = *mask;
  auto handler = HandlerFromName(cols[4]);
  if (!handler) return Err("unknown handler \"" + std::string(cols[4]) + "\"");
  e.handler = *handler;
  if (!HandlerFitsLevel(e.handler, e.level)) {
    return Err("handler " + std::string(cols[4]) + " does not belong at level " +
                          std::string(cols[0]));
  }
  if ((e.handler == Handler::kDeny) != e.mask.Never()) {
    return Err("a deny row must have caps \"-\", and only a deny row may");
  }
  // The driver decides these by the privilege of its caller, which is the
  // supervisor (often root), never the workload.
  const bool privileged_gss = e.level == Level::kControl && (e.key & kGssLegacyPrivilegedBits) == kGssLegacyPrivilegedBits;
  const bool privileged_binapi = (e.level == Level::kAlloc && e.key == kBinapiPrivilegedClass) ||
                                 (e.level == Level::kControl && (e.key >> 16) == kBinapiPrivilegedClass);
  if ((privileged_gss || privileged_binapi) && e.handler != Handler::kDeny) {
    return Err("a privileged GSS or BINAPI command may only be a deny row: the driver would check the "
               "supervisor's privilege, not the workload's");
  }
  e.param_struct = cols[5] == "-" ? "" : std::string(cols[5]);
  auto size = ParseNumber(cols[6], 10);
  if (!size) return Err("size \"" + std::string(cols[6]) + "\" is not a number");
  e.param_size = *size;
  if (IsGspForwardedControl(e.level, e.key) && e.handler != Handler::kDeny &&
      (e.handler != Handler::kSimple || !e.param_struct.empty() || e.param_size == 0 || cols[7] != "-")) {
    return Err("a control forwarded to the GSP firmware is a simple row with struct \"-\", the size seen on "
               "a real driver, and no layout: the driver defines no struct for it");
  }
  if (e.level == Level::kFrontend && e.param_size >= (1u << 14)) {
    return Err("frontend size does not fit _IOC_SIZE");
  }
  if (cols[7] != "-") {
    for (std::string_view item_text : Split(cols[7], ';')) {
      auto item = ParseLayoutItem(item_text);
      if (!item) return tl::unexpected(item.error());
      bool is_pointer = item->kind == LayoutItem::Kind::kInOut || item->kind == LayoutItem::Kind::kOut ||
                        item->kind == LayoutItem::Kind::kInOutSquare || item->kind == LayoutItem::Kind::kNull;
      std::uint32_t width = item->kind == LayoutItem::Kind::kShare            ? sizeof(nv::RS_SHARE_POLICY)
                            : item->kind == LayoutItem::Kind::kCallerGpuFiles ? 0
                            : is_pointer                                      ? 8
                                                                              : 4;
      bool fits = item->offset + width <= e.param_size &&
                  (item->elem_size == 0 || item->count_offset + 4 <= e.param_size);
      if (!fits) {
        return Err("layout item \"" + std::string(item_text) +
                              "\" lies outside the " + std::to_string(e.param_size) +
                              "-byte parameters");
      }
      e.layout.push_back(std::move(*item));
    }
  }
  return e;
}

}  // namespace grammar

using grammar::FileHeader;
using grammar::ParseRow;
using grammar::ReadTableFile;

Result<Table> Table::Parse(std::string_view text) {
  Table table;
  auto add_row = [&](std::string_view line, int, const FileHeader&) -> Result<void> {
    auto entry = ParseRow(line);
    if (!entry) return tl::unexpected(entry.error());
    return table.Add(std::move(*entry));
  };
  auto header = ReadTableFile(text, "", add_row);
  if (!header) return tl::unexpected(header.error());
  table.branch_ = std::move(header->branch);
  table.versions_ = std::move(header->versions);
  return table;
}

std::string FormatLayout(std::span<const LayoutItem> layout) {
  if (layout.empty()) return "-";
  std::string out;
  for (const LayoutItem& item : layout) {
    if (!out.empty()) out += ';';
    const LayoutKindName& kind = LayoutKind(item.kind);
    out += kind.name;
    if (kind.fields == LayoutFields::kNone) continue;
    out += ":" + item.field + "@" + std::to_string(item.offset);
    if (item.elem_size != 0) {
      out += ":" + item.count_field + "@" + std::to_string(item.count_offset) + ":" +
             std::to_string(item.elem_size);
    }
  }
  return out;
}

}  // namespace nvgate::abi
