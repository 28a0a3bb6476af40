// The layout of a table file, full or delta: header lines, comments, rows.
#include <string>
#include <vector>

#include "abi/table_grammar.h"

namespace nvgate::abi::grammar {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    std::size_t pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    s.remove_prefix(pos + 1);
  }
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines = Split(text, '\n');
  for (std::string_view& line : lines) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  return lines;
}

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

Result<FileHeader> ReadTableFile(std::string_view text, std::string_view delta_of,
                                                    const RowReader& row) {
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

}  // namespace nvgate::abi::grammar
