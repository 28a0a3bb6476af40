// The pieces the table grammars share: the layout of a table file, common
// to full tables (table_rows.cc) and deltas (table_deltas.cc), its header
// lines, which the embedded catalog reads alone (table_catalog.cc), and the
// row, which a delta's change and add lines end with. Internal to src/abi.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "abi/abi.h"
#include "error/error.h"

namespace nvgate::abi::grammar {

// Every error a grammar reports is about the table text it read.
inline tl::unexpected<Error> Err(std::string message) { return tl::unexpected(Error::Malformed(std::move(message))); }

std::vector<std::string_view> Split(std::string_view s, char sep);

// The lines of `text`, without their line ends ("\n" or "\r\n").
std::vector<std::string_view> Lines(std::string_view text);

// The header lines common to full and delta tables; true when `line` was one.
bool ParseHeader(std::string_view line, std::string& branch, std::vector<std::string>& versions);

// The header lines of a table file, full or delta.
struct FileHeader {
  std::string branch;
  std::vector<std::string> versions;
};

using RowReader = std::function<Result<void>(std::string_view line, int line_no,
                                                                const FileHeader& header)>;

// Reads the header lines of `text` and hands every other line that is not
// empty or a comment to `row`, with the header as read so far. A full table
// (`delta_of` empty) has no #base line; a delta's #base must be `delta_of`.
// An error, from the file or from `row`, names its line.
Result<FileHeader> ReadTableFile(std::string_view text, std::string_view delta_of,
                                                    const RowReader& row);

// One row of a full table: level, name, key, caps, handler, struct, size and
// layout, tab-separated.
Result<Entry> ParseRow(std::string_view line);

}  // namespace nvgate::abi::grammar
