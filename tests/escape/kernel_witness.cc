#include "kernel_witness.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

namespace nvgate::escape {
namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";
constexpr const char* kEvent = "events/raw_syscalls/sys_enter";

tl::expected<void, std::string> WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) return tl::unexpected(fmt::format("cannot write '{}' to {}", text, path));
  return {};
}

}  // namespace

tl::expected<std::unique_ptr<KernelWitness>, std::string> KernelWitness::Start(const std::string& tag) {
  if (tag.empty() || tag.size() > 15) return tl::unexpected(std::string("the tag must be 1 to 15 characters"));
  std::string instances = std::string(kTracefs) + "/instances";
  if (::access(instances.c_str(), F_OK) != 0 &&
      ::mount("nodev", kTracefs, "tracefs", 0, nullptr) != 0) {
    return tl::unexpected(fmt::format("no tracefs at {} and mounting it failed: {}", kTracefs, std::strerror(errno)));
  }
  std::string instance = instances + "/nvgate-" + tag;
  if (::mkdir(instance.c_str(), 0700) != 0) {
    return tl::unexpected(fmt::format("cannot create the trace instance {}: {}", instance, std::strerror(errno)));
  }
  auto witness = std::unique_ptr<KernelWitness>(new KernelWitness(instance));
  std::string event = instance + "/" + kEvent;
  for (auto r : {WriteFile(instance + "/buffer_size_kb", "4096"),
                 WriteFile(event + "/filter",
                           fmt::format("comm == \"{}\" && (id == {} || id == 54 || id == {})", tag, 16, 0x40000010)),
                 WriteFile(event + "/enable", "1")}) {
    if (!r) return tl::unexpected(r.error());
  }
  return witness;
}

tl::expected<std::vector<KernelIoctl>, std::string> KernelWitness::Stop() {
  stopped_ = true;
  if (auto r = WriteFile(instance_ + "/" + kEvent + "/enable", "0"); !r) return tl::unexpected(r.error());
  std::ifstream trace(instance_ + "/trace");
  if (!trace) return tl::unexpected("cannot read " + instance_ + "/trace");
  static const std::regex kLine(R"(sys_enter: NR (\d+) \(([0-9a-f]+), ([0-9a-f]+),)");
  std::vector<KernelIoctl> seen;
  for (std::string line; std::getline(trace, line);) {
    if (line.find("LOST") != std::string::npos) return tl::unexpected("the trace buffer overflowed: " + line);
    std::smatch m;
    if (!std::regex_search(line, m, kLine)) continue;
    seen.push_back({std::stol(m[1]), std::stoull(m[2], nullptr, 16), std::stoull(m[3], nullptr, 16)});
  }
  return seen;
}

KernelWitness::~KernelWitness() {
  if (!stopped_) (void)WriteFile(instance_ + "/" + kEvent + "/enable", "0");
  ::rmdir(instance_.c_str());
}

}  // namespace nvgate::escape
