// OwnedFd: a file descriptor with exactly one owner, closed when the owner goes
// away. Used wherever a descriptor outlives one statement, so that every early
// return and error branch closes it without hand-written cleanup. Code in a
// child between fork() and exec() keeps raw descriptors: it must not run
// destructors of objects it shares with the parent.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace nvgate::fd {

class OwnedFd {
 public:
  OwnedFd() = default;
  // Takes ownership of fd; a negative fd means "none".
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() { CloseKeepingErrno(); }

  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

  // Gives up ownership without closing; the caller now owns the result.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }

  // Closes the descriptor held (if any) and takes ownership of fd.
  void reset(int fd = -1) {
    CloseKeepingErrno();
    fd_ = fd;
  }

  // Closes now and says whether close() succeeded, with errno set where it did
  // not: for a file written through this descriptor, whose write errors
  // close() may be the first to report. Holds nothing afterwards either way.
  [[nodiscard]] bool Close() { return fd_ < 0 || ::close(std::exchange(fd_, -1)) == 0; }

 private:
  // Keeps errno as it was: callers close descriptors on error paths, after the
  // failing call set the errno they report.
  void CloseKeepingErrno() {
    if (fd_ < 0) return;
    const int saved_errno = errno;
    ::close(fd_);
    errno = saved_errno;
    fd_ = -1;
  }

  int fd_ = -1;
};

}  // namespace nvgate::fd
