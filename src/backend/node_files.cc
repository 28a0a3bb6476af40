#include "backend/node_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "error/error.h"
#include "fd/owned_fd.h"

namespace nvgate::backend {
namespace {

// Sparse: costs no disk, bounds what one mmap of a node can cover.
constexpr off_t kMappableNodeSize = off_t{1} << 30;

}  // namespace

Result<std::unique_ptr<NodeFiles>> NodeFiles::Create(std::string_view owner, const std::string& dir, int gpu_count) {
  std::string path = dir;
  bool owns_dir = path.empty();
  if (owns_dir) {
    std::string tmpl = "/tmp/nvgate-" + std::string(owner) + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return tl::unexpected(
          Error::Errno("cannot create the " + std::string(owner) + "'s directory"));
    }
    path = tmpl;
    // Workloads may run as another user; they need to reach the nodes.
    ::chmod(path.c_str(), 0755);
  }
  std::unique_ptr<NodeFiles> files(new NodeFiles(path, owns_dir));
  for (auto r : {files->Add(owner, "nvidiactl", {abi::DeviceKind::kCtl}, kMappableNodeSize),
                 files->Add(owner, "nvidia-uvm", {abi::DeviceKind::kUvm}, 0),
                 files->Add(owner, "nvidia-uvm-tools", {abi::DeviceKind::kUvmTools}, 0)}) {
    if (!r) return tl::unexpected(r.error());
  }
  for (int i = 0; i < gpu_count; ++i) {
    if (auto r = files->Add(owner, "nvidia" + std::to_string(i), {abi::DeviceKind::kGpu, i}, kMappableNodeSize); !r) {
      return tl::unexpected(r.error());
    }
  }
  return files;
}

NodeFiles::~NodeFiles() {
  if (owns_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<void> NodeFiles::Add(std::string_view owner, const std::string& name, NodeId id, off_t size) {
  std::string path = dir_ + "/" + name;
  struct stat st;
  {
    fd::OwnedFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
    if (!fd || ::ftruncate(fd.get(), size) != 0 || ::fstat(fd.get(), &st) != 0) {
      return tl::unexpected(Error::System(
          errno, "cannot create the " + std::string(owner) + "'s node " + path + ": " + std::strerror(errno)));
    }
  }
  // Every workload user may open the nodes, as with the driver's 0666 nodes.
  ::chmod(path.c_str(), 0666);
  nodes_.push_back({"/dev/" + name, path, id.kind});
  files_[{st.st_dev, st.st_ino}] = id;
  return {};
}

abi::DeviceKind NodeFiles::Classify(const struct stat& st) const { return Identify(st).kind; }

NodeId NodeFiles::Identify(const struct stat& st) const {
  auto it = files_.find({st.st_dev, st.st_ino});
  return it == files_.end() ? NodeId{} : it->second;
}

NodeId NodeFiles::IdentifyFd(int fd) const {
  struct stat st;
  return fd >= 0 && ::fstat(fd, &st) == 0 ? Identify(st) : NodeId{};
}

}  // namespace nvgate::backend
