#include "supervisor/fd_passing.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace nvgate::supervisor {
namespace {

// One byte of data with room for one descriptor: what SendFd sends and
// ReceiveFd expects. On the stack, so that SendFd allocates nothing.
struct FdMessage {
  FdMessage() {
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  char data = 0;
  iovec iov{&data, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
};

}  // namespace

bool SendFd(int sock, int fd) {
  FdMessage message;
  message.data = 'L';
  cmsghdr* cm = CMSG_FIRSTHDR(&message.header);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  return sendmsg(sock, &message.header, MSG_NOSIGNAL) == 1;
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
