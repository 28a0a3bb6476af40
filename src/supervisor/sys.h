// Raw syscalls and uapi constants newer than the build machine's headers
// (Debian 12 ships 6.1 uapi headers). Internal to the supervisor module.
#pragma once

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)  // Linux 6.6
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // Linux 6.9: a pidfd for a thread that is not the leader
#endif

namespace nvgate::supervisor::sys {

inline int PidfdOpen(pid_t pid, unsigned flags) {
  return static_cast<int>(syscall(__NR_pidfd_open, pid, flags));
}
inline int PidfdGetfd(int pidfd, int target_fd) {
  return static_cast<int>(syscall(__NR_pidfd_getfd, pidfd, target_fd, 0));
}

}  // namespace nvgate::supervisor::sys
