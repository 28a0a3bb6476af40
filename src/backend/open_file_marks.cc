#include "backend/open_file_marks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

namespace nvgate::backend {
namespace {

// Marks live in [base, base + kSpan), far past any node file's end (the
// largest is 1 GiB) and below the largest offset a lock may take.
constexpr std::uint64_t kSpan = std::uint64_t{1} << 32;

std::uint64_t RandomBase() {
  std::random_device rd;
  // 2^40 .. 2^61, 2^32-aligned: 2^21 possible bases.
  std::uint64_t slot = (std::uint64_t{rd()} << 32 | rd()) % (std::uint64_t{1} << 21);
  return (std::uint64_t{1} << 40) + slot * kSpan;
}

struct flock OneByte(short type, std::uint64_t offset) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(offset);
  fl.l_len = 1;
  return fl;
}

}  // namespace

OpenFileMarks::OpenFileMarks() : base_(RandomBase()) {}

std::optional<std::uint64_t> OpenFileMarks::Identify(int fd, bool& is_new) {
  is_new = false;
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return std::nullopt;

  // The marks this description owns, from the kernel's own list of its locks
  // (fs/locks.c, show_fd_locks): "lock:\t1: OFDLCK ADVISORY  READ -1 MAJ:MIN:INO START END".
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  std::string text;
  {
    fd::OwnedFd info(::open(path, O_RDONLY | O_CLOEXEC));
    if (!info) return std::nullopt;
    char buf[1024];
    for (ssize_t n; (n = ::read(info.get(), buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  }

  std::vector<std::uint64_t> owned;
  for (std::size_t at = text.find("lock:"); at != std::string::npos; at = text.find("lock:", at + 5)) {
    std::size_t end = text.find('\n', at);
    std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.find("OFDLCK") == std::string::npos || line.find("->") != std::string::npos) continue;
    std::size_t last = line.find_last_of(' ');
    std::size_t before = line.find_last_of(' ', last - 1);
    if (last == std::string::npos || before == std::string::npos) continue;
    std::uint64_t start = std::strtoull(line.c_str() + before + 1, nullptr, 10);
    if (start >= base_ && start < base_ + kSpan) owned.push_back(start - base_);
  }
  if (owned.size() > 1) return std::nullopt;
  if (owned.size() == 1) {
    auto mark = marks_.find(owned[0]);
    if (mark == marks_.end() || mark->second.dev != st.st_dev || mark->second.ino != st.st_ino) {
      return std::nullopt;  // a mark this sim never made
    }
    return owned[0];
  }

  // A read lock needs a readable file, a write lock a writable one.
  int mode = ::fcntl(fd, F_GETFL) & O_ACCMODE;
  short type = mode == O_WRONLY ? F_WRLCK : F_RDLCK;
  Mark node{st.st_dev, st.st_ino};
  if (ProbeFor(fd, node) < 0) return std::nullopt;
  // A byte someone else holds (a workload's own lock) is skipped.
  for (int tries = 0; tries < 16; ++tries) {
    std::uint64_t id = next_++;
    struct flock fl = OneByte(type, base_ + id);
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) {
      marks_.emplace(id, node);
      is_new = true;
      return id;
    }
  }
  return std::nullopt;
}

bool OpenFileMarks::Alive(std::uint64_t id) const {
  auto mark = marks_.find(id);
  if (mark == marks_.end()) return false;
  auto probe = probes_.find({mark->second.dev, mark->second.ino});
  if (probe == probes_.end()) return false;
  struct flock fl = OneByte(F_WRLCK, base_ + id);
  if (::fcntl(probe->second.get(), F_OFD_GETLK, &fl) != 0) return true;  // cannot tell: keep it
  return fl.l_type != F_UNLCK;
}

void OpenFileMarks::Forget(std::uint64_t id) { marks_.erase(id); }

std::vector<int> OpenFileMarks::ProbeFds() const {
  std::vector<int> out;
  for (const auto& [node, fd] : probes_) out.push_back(fd.get());
  return out;
}

int OpenFileMarks::ProbeFor(int fd, const Mark& node) {
  auto it = probes_.find({node.dev, node.ino});
  if (it != probes_.end()) return it->second.get();
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  fd::OwnedFd probe(::open(path, O_RDONLY | O_CLOEXEC));
  if (!probe) return -1;
  return probes_.emplace(std::make_pair(node.dev, node.ino), std::move(probe)).first->second.get();
}

}  // namespace nvgate::backend
