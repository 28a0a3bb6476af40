#include "supervisor/fd_passing.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace nvgate::supervisor {
namespace {

// Data with room for one descriptor: what SendFd sends and ReceiveFd expects
// (one byte of its own), or the caller's data. On the stack, so that SendFd
// allocates nothing.
struct FdMessage {
  explicit FdMessage(std::string_view data = {}) {
    if (!data.empty()) iov = {const_cast<char*>(data.data()), data.size()};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
};

}  // namespace

bool SendFd(int sock, int fd) { return SendFdWith(sock, fd, "L"); }

bool SendFdWith(int sock, int fd, std::string_view data) {
  if (data.empty()) return false;
  FdMessage message(data);
  cmsghdr* cm = CMSG_FIRSTHDR(&message.header);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  return sendmsg(sock, &message.header, MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

fd::OwnedFd ReceiveFd(int sock) {
  FdMessage message;
  ssize_t n;
  do {
    n = recvmsg(sock, &message.header, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return {};
  cmsghdr* cm = CMSG_FIRSTHDR(&message.header);
  if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) return {};
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cm), sizeof(int));
  return fd::OwnedFd(fd);
}

}  // namespace nvgate::supervisor
