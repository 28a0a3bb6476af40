// Device node files for the backends that stand in for the driver (sim,
// replay): regular files in a directory of their own that the workload opens,
// stats and mmaps as /dev/nvidia*, recognised by (st_dev, st_ino).
//
// nvidiactl and each nvidia# are large sparse files, so that a workload's mmap
// of memory it mapped through RM works (system memory is mapped through a
// control file, video memory through a GPU file, as with the driver). The
// driver maps only at file offset 0, so every mapping of a node aliases the
// same file pages: memory written through one mapping shows through every other.
#pragma once

#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "abi/device.h"
#include "backend/backend.h"
#include "error/error.h"

namespace nvgate::backend {

// A node of these files: its kind, and for a GPU node its index (nvidia#).
struct NodeId {
  abi::DeviceKind kind = abi::DeviceKind::kNotNvidia;
  int gpu = -1;
};

class NodeFiles {
 public:
  // Creates nvidiactl, nvidia-uvm, nvidia-uvm-tools and nvidia0..gpu_count-1 in
  // `dir`, or in a fresh temporary directory removed with this object when
  // `dir` is empty. `owner` names the backend in errors ("sim").
  static Result<std::unique_ptr<NodeFiles>> Create(std::string_view owner, const std::string& dir, int gpu_count);
  NodeFiles(const NodeFiles&) = delete;
  NodeFiles& operator=(const NodeFiles&) = delete;
  ~NodeFiles();

  abi::DeviceKind Classify(const struct stat& st) const;
  // What an open file is; kNotNvidia for any other file.
  abi::DeviceKind ClassifyFd(int fd) const { return IdentifyFd(fd).kind; }
  NodeId Identify(const struct stat& st) const;
  NodeId IdentifyFd(int fd) const;
  const std::vector<DeviceNode>& nodes() const { return nodes_; }

 private:
  NodeFiles(std::string dir, bool owns_dir) : dir_(std::move(dir)), owns_dir_(owns_dir) {}
  Result<void> Add(std::string_view owner, const std::string& name, NodeId id, off_t size);

  const std::string dir_;
  const bool owns_dir_;
  // Written while the files are created, read-only afterwards.
  std::vector<DeviceNode> nodes_;
  std::map<std::pair<dev_t, ino_t>, NodeId> files_;
};

}  // namespace nvgate::backend
