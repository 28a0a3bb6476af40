// The table itself: the names of its levels and handlers, its indexes, and
// the order of driver versions.
#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <vector>

#include "abi/abi.h"
#include "abi/table_grammar.h"
#include "names/names.h"

namespace nvgate::abi {
namespace {

using grammar::Err;
using grammar::Split;

constexpr std::array<std::string_view, kLevelCount> kLevelNames = {
    "frontend", "uvm", "control", "alloc", "alloc_memory", "vid_heap",
};

constexpr std::array<std::string_view, 13> kHandlerNames = {
    "deny",      "simple",          "no_params",  "bytes",
    "rm_control", "rm_alloc",       "rm_alloc_memory", "rm_vid_heap",
    "rm_free",   "root_client",     "uvm_initialize",  "export_dmabuf",
    "caller_memory",
};

}  // namespace

std::string_view LevelName(Level level) { return names::NameOf(kLevelNames, level); }

std::optional<Level> LevelFromName(std::string_view name) { return names::FromName<Level>(kLevelNames, name); }

std::string_view HandlerName(Handler handler) { return names::NameOf(kHandlerNames, handler); }

std::optional<Handler> HandlerFromName(std::string_view name) {
  return names::FromName<Handler>(kHandlerNames, name);
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

const Entry* Table::Find(Level level, std::uint32_t key) const {
  auto it = index_.find({level, key});
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const Entry* Table::FindByName(Level level, std::string_view name) const {
  auto it = name_index_.find({level, std::string(name)});
  return it == name_index_.end() ? nullptr : &entries_[it->second];
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

}  // namespace nvgate::abi
