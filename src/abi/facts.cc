#include "abi/facts.h"

#include <charconv>

#include <fmt/format.h>

namespace nvgate::abi {
namespace {

// Every error here is about the facts text read.
tl::unexpected<Error> Err(std::string message) { return tl::unexpected(Error::Malformed(std::move(message))); }

std::optional<std::uint64_t> ParseValue(std::string_view s) {
  int base = 10;
  if (s.starts_with("0x")) {
    s.remove_prefix(2);
    base = 16;
  }
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<Facts> Facts::Parse(std::string_view tag, std::string_view text) {
  Facts facts;
  facts.tag = std::string(tag);
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    std::size_t t1 = line.find('\t');
    std::size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) {
      return Err(std::string(tag) + " line " + std::to_string(line_no) +
                            ": expected kind<TAB>name<TAB>value");
    }
    std::string_view kind = line.substr(0, t1);
    std::string name(line.substr(t1 + 1, t2 - t1 - 1));
    std::string_view rest = line.substr(t2 + 1);
    // dispatch<TAB>NAME<TAB>methodId<TAB>paramSize: the one kind with two numbers.
    std::optional<std::uint64_t> second;
    if (kind == "dispatch") {
      std::size_t t3 = rest.find('\t');
      if (t3 == std::string_view::npos) {
        return Err(std::string(tag) + " line " + std::to_string(line_no) +
                   ": expected dispatch<TAB>name<TAB>methodId<TAB>paramSize");
      }
      second = ParseValue(rest.substr(t3 + 1));
      if (!second) {
        return Err(std::string(tag) + " line " + std::to_string(line_no) + ": bad number");
      }
      rest = rest.substr(0, t3);
    }
    auto value = ParseValue(rest);
    if (!value) {
      return Err(std::string(tag) + " line " + std::to_string(line_no) + ": bad number");
    }
    if (kind == "dispatch") {
      facts.dispatch[name] = DispatchFact{.method_id = *value, .param_size = *second};
    } else if (kind == "value") {
      facts.values[name] = *value;
    } else if (kind == "size") {
      facts.sizes[name] = *value;
    } else if (kind == "offset") {
      facts.offsets[name] = *value;
    } else {
      return Err(std::string(tag) + " line " + std::to_string(line_no) +
                            ": unknown kind \"" + std::string(kind) + "\"");
    }
  }
  return facts;
}

std::vector<std::string> CompareWithFacts(const Table& table, const Facts& facts) {
  std::vector<std::string> out;
  auto where = [&](const Entry& e) {
    return facts.tag + ": " + std::string(LevelName(e.level)) + " " + e.name;
  };
  for (const Entry& e : table.entries()) {
    // No header names them (IsGspForwardedControl); the parser checks their shape.
    if (IsGspForwardedControl(e.level, e.key)) continue;
    auto value = facts.values.find(e.name);
    auto dispatch = facts.dispatch.find(e.name);
    if (value == facts.values.end() && dispatch != facts.dispatch.end()) {
      if (dispatch->second.method_id != e.key) {
        out.push_back(fmt::format("{}: key {:#x} but the driver dispatches {:#x}", where(e), e.key,
                                  dispatch->second.method_id));
      }
      if (dispatch->second.param_size != e.param_size) {
        out.push_back(where(e) + ": size " + std::to_string(e.param_size) +
                      " but the driver's dispatch entry has paramSize " +
                      std::to_string(dispatch->second.param_size));
      }
    } else if (value == facts.values.end()) {
      out.push_back(where(e) + ": the driver headers define no such name");
    } else if (value->second != e.key) {
      out.push_back(fmt::format("{}: key {:#x} but the driver's number is {:#x}", where(e), e.key, value->second));
    }
    if (!e.param_struct.empty()) {
      auto size = facts.sizes.find(e.param_struct);
      if (size == facts.sizes.end()) {
        out.push_back(where(e) + ": no size fact for " + e.param_struct);
      } else if (size->second != e.param_size) {
        out.push_back(where(e) + ": size " + std::to_string(e.param_size) + " but sizeof(" +
                      e.param_struct + ") is " + std::to_string(size->second));
      }
    }
    auto check_offset = [&](const std::string& field, std::uint32_t offset) {
      std::string key = e.param_struct + "." + field;
      auto fact = facts.offsets.find(key);
      if (fact == facts.offsets.end()) {
        out.push_back(where(e) + ": no offset fact for " + key);
      } else if (fact->second != offset) {
        out.push_back(where(e) + ": " + key + " at " + std::to_string(offset) +
                      " but the driver has it at " + std::to_string(fact->second));
      }
    };
    for (const LayoutItem& item : e.layout) {
      if (item.field.empty()) continue;  // caller_gpu_files names no field
      check_offset(item.field, item.offset);
      if (!item.count_field.empty()) check_offset(item.count_field, item.count_offset);
    }
  }
  return out;
}

std::optional<Entry> RowAsFactsHaveIt(const Entry& row, const Facts& facts) {
  // No header names them; their rows come from what a real driver was seen to
  // take, not from the facts.
  if (IsGspForwardedControl(row.level, row.key)) return row;
  auto value = facts.values.find(row.name);
  if (value == facts.values.end()) {
    auto dispatch = facts.dispatch.find(row.name);
    if (dispatch == facts.dispatch.end()) return std::nullopt;
    Entry out = row;
    out.key = static_cast<std::uint32_t>(dispatch->second.method_id);
    out.param_size = static_cast<std::uint32_t>(dispatch->second.param_size);
    return out;
  }
  Entry out = row;
  out.key = static_cast<std::uint32_t>(value->second);
  if (!row.param_struct.empty()) {
    if (auto size = facts.sizes.find(row.param_struct); size != facts.sizes.end()) {
      out.param_size = static_cast<std::uint32_t>(size->second);
    }
  }
  auto offset_of = [&](const std::string& field, std::uint32_t& offset) {
    auto fact = facts.offsets.find(row.param_struct + "." + field);
    if (fact != facts.offsets.end()) offset = static_cast<std::uint32_t>(fact->second);
  };
  for (LayoutItem& item : out.layout) {
    offset_of(item.field, item.offset);
    if (!item.count_field.empty()) offset_of(item.count_field, item.count_offset);
  }
  return out;
}

}  // namespace nvgate::abi
