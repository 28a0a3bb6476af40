// Facts extracted from NVIDIA's published headers by tools/nvfacts, and the
// comparison of a table with them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abi/abi.h"
#include "error/error.h"

namespace nvgate::abi {

// A control command that no public header names, as the driver's generated
// dispatch table (src/nvidia/generated/g_*_nvoc.c) has it.
struct DispatchFact {
  std::uint64_t method_id = 0;   // the entry's methodId: the command's number
  std::uint64_t param_size = 0;  // the entry's paramSize: 0 when the method takes no parameters
};

struct Facts {
  std::string tag;                                   // driver version they came from
  std::map<std::string, std::uint64_t, std::less<>> values;   // NAME -> number
  std::map<std::string, std::uint64_t, std::less<>> sizes;    // STRUCT -> sizeof
  std::map<std::string, std::uint64_t, std::less<>> offsets;  // STRUCT.field -> offsetof
  std::map<std::string, DispatchFact, std::less<>> dispatch;  // NAME -> dispatch table entry

  static Result<Facts> Parse(std::string_view tag, std::string_view text);
};

// Every disagreement between the table and the facts, one line each: a key
// that differs from the driver's number, a size that differs from sizeof, a
// layout offset that differs from offsetof, or a name the facts lack. A row
// whose name only a dispatch fact gives is checked against that entry: its key
// against the methodId, its size against the paramSize.
std::vector<std::string> CompareWithFacts(const Table& table, const Facts& facts);

// `row` as the driver of `facts` has it: key, size and layout offsets taken from
// the facts (what a delta's change line needs). nullopt when the driver's headers
// do not name the command (a delta's remove line). A size or offset the facts
// lack is left as it is, for CompareWithFacts to report.
std::optional<Entry> RowAsFactsHaveIt(const Entry& row, const Facts& facts);

}  // namespace nvgate::abi
