#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>

#include "abi/abi.h"
#include "abi/embedded_tables.h"
#include "abi/nv_structs.h"
#include "error/error.h"

namespace nvgate::abi {
namespace {

// Every error here is about the table text read.
tl::unexpected<Error> Err(std::string message) { return tl::unexpected(Error::Malformed(std::move(message))); }

constexpr std::array<std::string_view, kLevelCount> kLevelNames = {
    "frontend", "uvm", "control", "alloc", "alloc_memory", "vid_heap",
};

constexpr std::array<std::string_view, 13> kHandlerNames = {
    "deny",      "simple",          "no_params",  "bytes",
    "rm_control", "rm_alloc",       "rm_alloc_memory", "rm_vid_heap",
    "rm_free",   "root_client",     "uvm_initialize",  "export_dmabuf",
    "caller_memory",
};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    std::size_t pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    s.remove_prefix(pos + 1);
  }
}

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
  LayoutItem item{};
  if (kind == "caller_gpu_files") {
    if (parts.size() != 1) return Err("layout item \"" + std::string(text) + "\" takes no field");
    item.kind = LayoutItem::Kind::kCallerGpuFiles;
    return item;
  }
  if (kind == "fd" || kind == "null" || kind == "client" || kind == "client_or_null" || kind == "status" ||
      kind == "share") {
    if (parts.size() != 2) return Err("layout item \"" + std::string(text) + "\" needs one field");
    item.kind = kind == "fd"               ? LayoutItem::Kind::kFd
                : kind == "null"           ? LayoutItem::Kind::kNull
                : kind == "client"         ? LayoutItem::Kind::kClient
                : kind == "client_or_null" ? LayoutItem::Kind::kClientOrNull
                : kind == "share"          ? LayoutItem::Kind::kShare
                                           : LayoutItem::Kind::kStatus;
    auto field = ParseField(parts[1]);
    if (!field) return tl::unexpected(field.error());
    item.field = field->first;
    item.offset = field->second;
    return item;
  }
  if (kind == "inout" || kind == "out" || kind == "square") {
    if (parts.size() != 4) {
      return Err("layout item \"" + std::string(text) + "\" needs ptr@off:count@off:elem");
    }
    item.kind = kind == "inout" ? LayoutItem::Kind::kInOut
                : kind == "out" ? LayoutItem::Kind::kOut
                                : LayoutItem::Kind::kInOutSquare;
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
  return Err("unknown layout item kind \"" + std::string(kind) + "\"");
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

}  // namespace

std::string_view LevelName(Level level) { return kLevelNames[static_cast<std::size_t>(level)]; }

std::optional<Level> LevelFromName(std::string_view name) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) return static_cast<Level>(i);
  }
  return std::nullopt;
}

std::string_view HandlerName(Handler handler) {
  return kHandlerNames[static_cast<std::size_t>(handler)];
}

std::optional<Handler> HandlerFromName(std::string_view name) {
  for (std::size_t i = 0; i < kHandlerNames.size(); ++i) {
    if (kHandlerNames[i] == name) return static_cast<Handler>(i);
  }
  return std::nullopt;
}

std::string Mask::ToString() const {
  if (Never()) return "-";
  std::string out = base ? "base" : "";
  if (!caps.empty()) {
    if (!out.empty()) out += ',';
    out += caps.ToString();
  }
  return out;
}

Result<void> Table::Add(Entry entry) {
  auto key = std::make_pair(entry.level, entry.key);
  if (index_.contains(key)) {
    return Err("duplicate " + std::string(LevelName(entry.level)) + " key for " + entry.name);
  }
  auto name = std::make_pair(entry.level, entry.name);
  if (name_index_.contains(name)) {
    return Err("duplicate " + std::string(LevelName(entry.level)) + " name " + entry.name);
  }
  index_.emplace(key, entries_.size());
  name_index_.emplace(std::move(name), entries_.size());
  entries_.push_back(std::move(entry));
  return {};
}

namespace {

// The header lines common to full and delta tables; true when `line` was one.
bool ParseHeader(std::string_view line, std::string& branch, std::vector<std::string>& versions) {
  if (line.starts_with("#branch\t")) {
    branch = std::string(line.substr(8));
    return true;
  }
  if (line.starts_with("#versions\t")) {
    for (std::string_view v : Split(line.substr(10), ' ')) {
      if (!v.empty()) versions.emplace_back(v);
    }
    return true;
  }
  return false;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines = Split(text, '\n');
  for (std::string_view& line : lines) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  return lines;
}

}  // namespace

namespace {

// The header lines of a table file, full or delta.
struct FileHeader {
  std::string branch;
  std::vector<std::string> versions;
};

using RowReader = std::function<Result<void>(std::string_view line, int line_no, const FileHeader& header)>;

// Reads the header lines of `text` and hands every other line that is not
// empty or a comment to `row`, with the header as read so far. A full table
// (`delta_of` empty) has no #base line; a delta's #base must be `delta_of`.
// An error, from the file or from `row`, names its line.
Result<FileHeader> ReadTableFile(std::string_view text, std::string_view delta_of, const RowReader& row) {
  FileHeader header;
  bool has_base = false;
  int line_no = 0;
  for (std::string_view line : Lines(text)) {
    ++line_no;
    if (line.empty()) continue;
    auto fail = [&](const std::string& why) { return Err("line " + std::to_string(line_no) + ": " + why); };
    if (line.starts_with("#base\t")) {
      std::string_view base = line.substr(6);
      if (delta_of.empty()) return fail("a delta table (#base) is not a full table");
      if (base != delta_of) {
        return fail("base " + std::string(base) + " is not the full table's branch " + std::string(delta_of));
      }
      has_base = true;
    } else if (!ParseHeader(line, header.branch, header.versions) && line.front() != '#') {
      if (!delta_of.empty() && (!has_base || header.versions.empty())) {
        return fail("#base, #branch and #versions must come before the first change");
      }
      if (auto read = row(line, line_no, header); !read) return fail(read.error().message);
    }
  }
  if (!delta_of.empty() && !has_base) return Err("missing #base header");
  if (header.branch.empty()) return Err("missing #branch header");
  if (header.versions.empty()) return Err("missing #versions header");
  return header;
}

}  // namespace

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

namespace {

// One line of a delta file.
struct DeltaLine {
  enum class Op : std::uint8_t { kRemove, kChange, kAdd };
  Op op;
  int line_no;
  std::string first, last;  // the version range it applies to; empty for every version
  Level level;
  std::string name;
  Entry row;  // the new row of a change or add
  bool AppliesTo(std::string_view version) const {
    return first.empty() ||
           (CompareVersions(first, version) <= 0 && CompareVersions(version, last) <= 0);
  }
};

// "op<TAB>versions<TAB>level<TAB>name" for remove; the same followed by the
// rest of a full row (key, caps, handler, struct, size, layout) for change and add.
Result<DeltaLine> ParseDeltaLine(std::string_view line, int line_no, std::span<const std::string> versions) {
  std::vector<std::string_view> cols = Split(line, '\t');
  DeltaLine d{};
  d.line_no = line_no;
  if (cols[0] == "remove") {
    d.op = DeltaLine::Op::kRemove;
  } else if (cols[0] == "change") {
    d.op = DeltaLine::Op::kChange;
  } else if (cols[0] == "add") {
    d.op = DeltaLine::Op::kAdd;
  } else {
    return Err("unknown delta operation \"" + std::string(cols[0]) +
               "\" (remove, change or add)");
  }
  std::size_t expected = d.op == DeltaLine::Op::kRemove ? 4 : 10;
  if (cols.size() != expected) {
    return Err(std::string(cols[0]) + " needs " + std::to_string(expected) +
               " tab-separated columns, found " + std::to_string(cols.size()));
  }
  if (cols[1] != "*") {
    std::size_t dots = cols[1].find("..");
    if (dots == std::string_view::npos) {
      return Err("versions \"" + std::string(cols[1]) + "\" is neither * nor FIRST..LAST");
    }
    d.first = std::string(cols[1].substr(0, dots));
    d.last = std::string(cols[1].substr(dots + 2));
    for (const std::string& end : {d.first, d.last}) {
      if (std::find(versions.begin(), versions.end(), end) == versions.end()) {
        return Err("version " + end + " of range " + std::string(cols[1]) +
                   " is not in #versions");
      }
    }
    if (CompareVersions(d.first, d.last) > 0) {
      return Err("range " + std::string(cols[1]) + " ends before it starts");
    }
  }
  auto level = LevelFromName(cols[2]);
  if (!level) return Err("unknown level \"" + std::string(cols[2]) + "\"");
  d.level = *level;
  d.name = std::string(cols[3]);
  if (d.op != DeltaLine::Op::kRemove) {
    std::string_view rest = line;
    for (int skip = 0; skip < 2; ++skip) rest.remove_prefix(rest.find('\t') + 1);
    auto row = ParseRow(rest);
    if (!row) return tl::unexpected(row.error());
    d.row = std::move(*row);
  }
  return d;
}

}  // namespace

Result<std::vector<Table>> Table::ParseDelta(const Table& base, std::string_view text) {
  std::vector<DeltaLine> changes;
  auto read_change = [&](std::string_view line, int line_no, const FileHeader& so_far) -> Result<void> {
    auto change = ParseDeltaLine(line, line_no, so_far.versions);
    if (!change) return tl::unexpected(change.error());
    const Entry* in_base = base.FindByName(change->level, change->name);
    if (change->op == DeltaLine::Op::kAdd && in_base) {
      return Err("add of " + change->name + ", which the base table has (use change)");
    }
    if (change->op != DeltaLine::Op::kAdd && !in_base) {
      return Err(change->name + " is not a " + std::string(LevelName(change->level)) +
                 " row of the base table");
    }
    if (change->op != DeltaLine::Op::kRemove && change->row.name != change->name) {
      return Err("the row names " + change->row.name + ", not " + change->name);
    }
    if (change->op != DeltaLine::Op::kRemove && change->row.level != change->level) {
      return Err("the row's level differs from the line's");
    }
    if (change->op == DeltaLine::Op::kChange && RowDifferences(*in_base, change->row).empty()) {
      return Err("change of " + change->name + " equals the base row");
    }
    changes.push_back(std::move(*change));
    return {};
  };
  auto header = ReadTableFile(text, base.branch(), read_change);
  if (!header) return tl::unexpected(header.error());
  const std::string& branch = header->branch;
  const std::vector<std::string>& versions = header->versions;

  // Two lines about one row must never both apply to one version: the result
  // would depend on their order.
  for (std::size_t i = 0; i < changes.size(); ++i) {
    for (std::size_t j = i + 1; j < changes.size(); ++j) {
      const DeltaLine& a = changes[i];
      const DeltaLine& b = changes[j];
      if (a.level != b.level || a.name != b.name) continue;
      for (const std::string& v : versions) {
        if (a.AppliesTo(v) && b.AppliesTo(v)) {
          return Err("line " + std::to_string(b.line_no) + ": " + b.name + " is already changed for " +
                     v + " by line " + std::to_string(a.line_no));
        }
      }
    }
  }

  // Versions that the same lines apply to share one table.
  std::map<std::vector<std::size_t>, std::vector<std::string>> groups;
  for (const std::string& v : versions) {
    std::vector<std::size_t> applying;
    for (std::size_t i = 0; i < changes.size(); ++i) {
      if (changes[i].AppliesTo(v)) applying.push_back(i);
    }
    groups[applying].push_back(v);
  }
  std::vector<Table> out;
  for (const auto& [applying, group_versions] : groups) {
    std::map<std::pair<Level, std::string>, const DeltaLine*> by_name;
    for (std::size_t i : applying) by_name[{changes[i].level, changes[i].name}] = &changes[i];
    Table table;
    table.branch_ = branch;
    table.base_ = base.branch();
    table.versions_ = group_versions;
    auto add = [&](const Entry& e, int from_line) -> Result<void> {
      auto added = table.Add(e);
      if (added || from_line == 0) return added;
      return tl::unexpected(added.error().Prefixed("line " + std::to_string(from_line) + ": "));
    };
    for (const Entry& e : base.entries()) {
      auto it = by_name.find({e.level, e.name});
      if (it == by_name.end()) {
        if (auto added = add(e, 0); !added) return tl::unexpected(added.error());
      } else if (it->second->op == DeltaLine::Op::kChange) {
        if (auto added = add(it->second->row, it->second->line_no); !added) {
          return tl::unexpected(added.error());
        }
      }
    }
    for (std::size_t i : applying) {
      if (changes[i].op != DeltaLine::Op::kAdd) continue;
      if (auto added = add(changes[i].row, changes[i].line_no); !added) {
        return tl::unexpected(added.error());
      }
    }
    out.push_back(std::move(table));
  }
  return out;
}

const Entry* Table::Find(Level level, std::uint32_t key) const {
  auto it = index_.find({level, key});
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const Entry* Table::FindByName(Level level, std::string_view name) const {
  auto it = name_index_.find({level, std::string(name)});
  return it == name_index_.end() ? nullptr : &entries_[it->second];
}

std::string FormatLayout(std::span<const LayoutItem> layout) {
  if (layout.empty()) return "-";
  std::string out;
  for (const LayoutItem& item : layout) {
    if (!out.empty()) out += ';';
    switch (item.kind) {
      case LayoutItem::Kind::kFd: out += "fd:"; break;
      case LayoutItem::Kind::kInOut: out += "inout:"; break;
      case LayoutItem::Kind::kOut: out += "out:"; break;
      case LayoutItem::Kind::kInOutSquare: out += "square:"; break;
      case LayoutItem::Kind::kNull: out += "null:"; break;
      case LayoutItem::Kind::kClient: out += "client:"; break;
      case LayoutItem::Kind::kStatus: out += "status:"; break;
      case LayoutItem::Kind::kShare: out += "share:"; break;
      case LayoutItem::Kind::kClientOrNull: out += "client_or_null:"; break;
      case LayoutItem::Kind::kCallerGpuFiles: out += "caller_gpu_files"; continue;
    }
    out += item.field + "@" + std::to_string(item.offset);
    if (item.elem_size != 0) {
      out += ":" + item.count_field + "@" + std::to_string(item.count_offset) + ":" +
             std::to_string(item.elem_size);
    }
  }
  return out;
}

std::vector<std::string> RowDifferences(const Entry& a, const Entry& b) {
  std::vector<std::string> out;
  if (a.key != b.key) out.push_back("key");
  if (a.mask.base != b.mask.base || a.mask.caps != b.mask.caps) out.push_back("caps");
  if (a.handler != b.handler) out.push_back("handler");
  if (a.param_struct != b.param_struct) out.push_back("struct");
  if (a.param_size != b.param_size) out.push_back("size");
  if (FormatLayout(a.layout) != FormatLayout(b.layout)) out.push_back("layout");
  return out;
}

int CompareVersions(std::string_view a, std::string_view b) {
  std::vector<std::string_view> pa = Split(a, '.');
  std::vector<std::string_view> pb = Split(b, '.');
  for (std::size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    if (i >= pa.size()) return -1;
    if (i >= pb.size()) return 1;
    unsigned long na = 0, nb = 0;
    std::from_chars(pa[i].data(), pa[i].data() + pa[i].size(), na);
    std::from_chars(pb[i].data(), pb[i].data() + pb[i].size(), nb);
    if (na != nb) return na < nb ? -1 : 1;
  }
  return 0;
}

std::string_view BranchOf(std::string_view version) {
  return version.substr(0, version.find('.'));
}

namespace {

[[noreturn]] void DieOnEmbedded(const EmbeddedTable& embedded, const std::string& why) {
  std::fprintf(stderr, "nvgate: built-in ABI table %.*s is invalid: %s\n",
               static_cast<int>(embedded.file.size()), embedded.file.data(), why.c_str());
  std::abort();
}

// The embedded table files, each parsed on first use: a run needs one driver's
// table, and parsing every branch's rows took most of `nvgate run`'s start-up.
// Which versions a file serves comes from its header lines alone. A file that
// does not build is a build defect (abi_table_test parses them all), so it
// stops the program.
class EmbeddedCatalog {
 public:
  EmbeddedCatalog() {
    for (const EmbeddedTable& embedded : EmbeddedTables()) {
      auto file = std::make_unique<File>();
      file->embedded = &embedded;
      for (std::string_view line : Lines(embedded.text)) {
        if (!line.starts_with('#')) continue;
        if (line.starts_with("#base\t")) file->base = std::string(line.substr(6));
        ParseHeader(line, file->branch, file->versions);
      }
      files_.push_back(std::move(file));
    }
  }

  // The table built for `version`, or nullptr when no file lists it.
  const Table* ForVersion(std::string_view version) {
    for (const auto& file : files_) {
      if (std::find(file->versions.begin(), file->versions.end(), version) == file->versions.end()) continue;
      for (const Table& table : Tables(*file)) {
        for (const std::string& v : table.versions()) {
          if (v == version) return &table;
        }
      }
    }
    return nullptr;
  }

  std::vector<std::string> Versions() const {
    std::vector<std::string> out;
    for (const auto& file : files_) out.insert(out.end(), file->versions.begin(), file->versions.end());
    return out;
  }

  std::vector<std::string> Branches() const {
    std::vector<std::string> out;
    for (const auto& file : files_) out.push_back(file->branch);
    return out;
  }

 private:
  struct File {
    const EmbeddedTable* embedded = nullptr;
    std::string branch;
    std::string base;  // a delta's full table; empty for a full table
    std::vector<std::string> versions;
    std::once_flag built;
    std::vector<Table> tables;
  };

  const std::vector<Table>& Tables(File& file) {
    std::call_once(file.built, [&] {
      if (file.base.empty()) {
        auto table = Table::Parse(file.embedded->text);
        if (!table) DieOnEmbedded(*file.embedded, table.error().message);
        file.tables.push_back(std::move(*table));
        return;
      }
      auto base = std::find_if(files_.begin(), files_.end(), [&](const auto& f) {
        return f->base.empty() && f->branch == file.base;
      });
      if (base == files_.end()) DieOnEmbedded(*file.embedded, "its #base is not a full table");
      auto branch_tables = Table::ParseDelta(Tables(**base).front(), file.embedded->text);
      if (!branch_tables) DieOnEmbedded(*file.embedded, branch_tables.error().message);
      file.tables = std::move(*branch_tables);
    });
    return file.tables;
  }

  std::vector<std::unique_ptr<File>> files_;
};

// Never destroyed: tables handed out stay valid until the process exits, and
// freeing them at exit would only cost time.
EmbeddedCatalog& Catalog() {
  static auto* catalog = new EmbeddedCatalog;
  return *catalog;
}

}  // namespace

const Table* TableForVersion(std::string_view version) { return Catalog().ForVersion(version); }

std::vector<std::string> SupportedVersions() {
  std::vector<std::string> out = Catalog().Versions();
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) < 0; });
  return out;
}

std::vector<std::string> SupportedBranches() {
  std::vector<std::string> out = Catalog().Branches();
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) < 0; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<std::string> NewestVersionOfBranch(std::string_view branch) {
  std::optional<std::string> newest;
  for (const std::string& v : SupportedVersions()) {
    if (BranchOf(v) == branch) newest = v;
  }
  return newest;
}

}  // namespace nvgate::abi
