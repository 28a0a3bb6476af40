// The table files built into the binary, found by driver version.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "abi/abi.h"
#include "abi/embedded_tables.h"
#include "abi/table_grammar.h"

namespace nvgate::abi {
namespace {

using grammar::Lines;
using grammar::ParseHeader;

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
