// Tells the simulated driver which open file description ("struct file") an fd
// refers to, and when that description has been released, without holding a
// reference to it.
//
// The driver keeps its per-file state (RM clients, UVM va_space, REGISTER_FD
// links, attached GPUs) on the struct file and frees it in its release
// callback, when the last reference goes: the workload's fd, the supervisor's
// short-lived duplicates, and any mapping. The sim sees only those duplicates,
// so it marks each description it meets with an open-file-description lock
// (F_OFD_SETLK) on a byte of its own past the end of the node file:
//
//   - OFD locks belong to the description, not to the fd or the process, and
//     the kernel drops them when the description is released (locks_remove_file
//     in __fput): a lock gone is a file released.
//   - /proc/self/fdinfo/N lists the locks owned by N's description: the byte
//     found there is the description's id.
//
// A workload can take locks on its own node files too. A description showing
// more than one mark is refused (Identify fails) rather than guessed at, and
// the marks start at a random base, so a workload cannot easily take over
// another description's id.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "fd/owned_fd.h"

namespace nvgate::backend {

class OpenFileMarks {
 public:
  OpenFileMarks();
  OpenFileMarks(const OpenFileMarks&) = delete;
  OpenFileMarks& operator=(const OpenFileMarks&) = delete;

  // The id of `fd`'s description: the one it already carries, or a new one
  // marked on it now (`is_new` says which). nullopt when it cannot be marked
  // or carries more than one mark. Not thread-safe: the sim calls it under its
  // lock.
  std::optional<std::uint64_t> Identify(int fd, bool& is_new);

  // Whether the description marked `id` is still open anywhere (asked through
  // a probe: a file of the same node that owns no mark).
  bool Alive(std::uint64_t id) const;

  // Forgets a released description.
  void Forget(std::uint64_t id);

  // The fds these marks keep open to probe liveness: not files any caller
  // opened, so the sim's look at its own fd table skips them.
  std::vector<int> ProbeFds() const;

 private:
  struct Mark {
    dev_t dev;
    ino_t ino;
  };
  int ProbeFor(int fd, const Mark& node);

  const std::uint64_t base_;
  std::uint64_t next_ = 1;  // 0 stands for "no file"
  std::map<std::uint64_t, Mark> marks_;
  // One read-only file per node, opened through /proc/self/fd of the first fd
  // seen on it (a new description, so its probes see every mark).
  std::map<std::pair<dev_t, ino_t>, fd::OwnedFd> probes_;
};

}  // namespace nvgate::backend
