// nvprobe's steps against the simulated driver in this very process, with no
// nvgate in between: the sim's rules on its caller (its fd table, pid and
// capabilities) apply to this process, as the driver's apply to a native
// program. For nvprobe_test and the integration test that compares the result
// with nvprobe under `nvgate run`.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "tools/nvprobe/probe_steps.h"

namespace nvprobe {

class InProcessSim {
 public:
  // `gpus`: the simulated GPUs; `without`: a /dev path this process cannot
  // open (as if it had no access to that node), or "".
  explicit InProcessSim(int gpus = 1, std::string without = "") : without_(std::move(without)) {
    nvgate::backend::SimOptions options;
    options.gpu_count = gpus;
    sim_ = nvgate::backend::MakeSimBackend(options).value();
  }

  DriverOps Ops() {
    return DriverOps{
        .open = [this](const char* dev_path) {
          if (dev_path == without_) {
            errno = EACCES;
            return -1;
          }
          for (const nvgate::backend::DeviceNode& node : sim_->Nodes()) {
            if (node.dev_path == dev_path) return ::open(node.source_path.c_str(), O_RDWR | O_CLOEXEC);
          }
          errno = ENOENT;
          return -1;
        },
        .ioctl = [this](int fd, unsigned long request, void* arg) {
          struct stat st;
          if (::fstat(fd, &st) != 0) return -1;
          int rc = sim_->Ioctl(fd, sim_->Classify(st), static_cast<std::uint32_t>(request), arg, 0);
          if (rc < 0) {
            errno = -rc;
            return -1;
          }
          return rc;
        },
    };
  }

 private:
  std::unique_ptr<nvgate::backend::Backend> sim_;
  std::string without_;
};

}  // namespace nvprobe
