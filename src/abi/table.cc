#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "abi/abi.h"
#include "abi/embedded_tables.h"

namespace nvgate::abi {
namespace {

using Err = tl::unexpected<std::string>;

constexpr std::array<std::string_view, kLevelCount> kLevelNames = {
    "frontend", "uvm", "control", "alloc", "alloc_memory", "vid_heap",
};

constexpr std::array<std::string_view, 12> kHandlerNames = {
    "deny",      "simple",          "no_params",  "bytes",
    "rm_control", "rm_alloc",       "rm_alloc_memory", "rm_vid_heap",
    "rm_free",   "root_client",     "uvm_initialize",  "export_dmabuf",
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

tl::expected<Mask, std::string> ParseMask(std::string_view text) {
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
tl::expected<std::pair<std::string, std::uint32_t>, std::string> ParseField(std::string_view s) {
  std::size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0) {
    return Err("layout field \"" + std::string(s) + "\" is not name@offset");
  }
  auto offset = ParseNumber(s.substr(at + 1), 10);
  if (!offset) return Err("bad offset in layout field \"" + std::string(s) + "\"");
  return std::make_pair(std::string(s.substr(0, at)), *offset);
}

tl::expected<LayoutItem, std::string> ParseLayoutItem(std::string_view text) {
  std::vector<std::string_view> parts = Split(text, ':');
  std::string_view kind = parts[0];
  LayoutItem item{};
  if (kind == "fd" || kind == "null" || kind == "client" || kind == "status") {
    if (parts.size() != 2) return Err("layout item \"" + std::string(text) + "\" needs one field");
    item.kind = kind == "fd"       ? LayoutItem::Kind::kFd
                : kind == "null"   ? LayoutItem::Kind::kNull
                : kind == "client" ? LayoutItem::Kind::kClient
                                   : LayoutItem::Kind::kStatus;
    auto field = ParseField(parts[1]);
    if (!field) return Err(field.error());
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
    if (!ptr) return Err(ptr.error());
    auto count = ParseField(parts[2]);
    if (!count) return Err(count.error());
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
  }
  return false;
}

tl::expected<Entry, std::string> ParseRow(std::string_view line) {
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
  if (!mask) return Err(mask.error());
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
  e.param_struct = cols[5] == "-" ? "" : std::string(cols[5]);
  auto size = ParseNumber(cols[6], 10);
  if (!size) return Err("size \"" + std::string(cols[6]) + "\" is not a number");
  e.param_size = *size;
  if (e.level == Level::kFrontend && e.param_size >= (1u << 14)) {
    return Err("frontend size does not fit _IOC_SIZE");
  }
  if (cols[7] != "-") {
    for (std::string_view item_text : Split(cols[7], ';')) {
      auto item = ParseLayoutItem(item_text);
      if (!item) return Err(item.error());
      bool is_pointer = item->kind != LayoutItem::Kind::kFd &&
                        item->kind != LayoutItem::Kind::kClient &&
                        item->kind != LayoutItem::Kind::kStatus;
      std::uint32_t width = is_pointer ? 8 : 4;
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

tl::expected<Table, std::string> Table::Parse(std::string_view text) {
  Table table;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto fail = [&](const std::string& why) {
      return Err("line " + std::to_string(line_no) + ": " + why);
    };
    if (line.starts_with("#branch\t")) {
      table.branch_ = std::string(line.substr(8));
      continue;
    }
    if (line.starts_with("#versions\t")) {
      for (std::string_view v : Split(line.substr(10), ' ')) {
        if (!v.empty()) table.versions_.emplace_back(v);
      }
      continue;
    }
    if (line.front() == '#') continue;
    auto entry = ParseRow(line);
    if (!entry) return fail(entry.error());
    auto key = std::make_pair(entry->level, entry->key);
    if (table.index_.contains(key)) {
      return fail("duplicate " + std::string(LevelName(entry->level)) + " key for " + entry->name);
    }
    table.index_.emplace(key, table.entries_.size());
    table.entries_.push_back(std::move(*entry));
  }
  if (table.branch_.empty()) return Err("missing #branch header");
  if (table.versions_.empty()) return Err("missing #versions header");
  return table;
}

const Entry* Table::Find(Level level, std::uint32_t key) const {
  auto it = index_.find({level, key});
  return it == index_.end() ? nullptr : &entries_[it->second];
}

namespace {

// The embedded tables, parsed once. A table that does not parse is a build
// defect (abi_table_test catches it), so it stops the program.
const std::vector<Table>& EmbeddedParsed() {
  static const std::vector<Table> tables = [] {
    std::vector<Table> out;
    for (const EmbeddedTable& embedded : EmbeddedTables()) {
      auto table = Table::Parse(embedded.text);
      if (!table) {
        std::fprintf(stderr, "nvgate: built-in ABI table %.*s is invalid: %s\n",
                     static_cast<int>(embedded.file.size()), embedded.file.data(),
                     table.error().c_str());
        std::abort();
      }
      out.push_back(std::move(*table));
    }
    return out;
  }();
  return tables;
}

}  // namespace

const Table* TableForVersion(std::string_view version) {
  for (const Table& table : EmbeddedParsed()) {
    for (const std::string& v : table.versions()) {
      if (v == version) return &table;
    }
  }
  return nullptr;
}

std::vector<std::string> SupportedVersions() {
  std::vector<std::string> out;
  for (const Table& table : EmbeddedParsed()) {
    out.insert(out.end(), table.versions().begin(), table.versions().end());
  }
  // Numeric, not lexical, order: 580.65.06 before 580.105.08.
  auto numeric = [](const std::string& v) {
    std::vector<int> parts;
    for (std::string_view p : Split(v, '.')) {
      int n = 0;
      std::from_chars(p.data(), p.data() + p.size(), n);
      parts.push_back(n);
    }
    return parts;
  };
  std::sort(out.begin(), out.end(),
            [&](const std::string& a, const std::string& b) { return numeric(a) < numeric(b); });
  return out;
}

}  // namespace nvgate::abi
