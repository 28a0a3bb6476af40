// Passing the listener from the workload-to-be to the supervisor over a
// socketpair (SCM_RIGHTS). SendFd uses only system calls, so a child forked
// from a multi-threaded process may call it.
#pragma once

#include <string_view>

#include "fd/owned_fd.h"

namespace nvgate::supervisor {

// Sends `fd` with one byte of data; false on failure.
bool SendFd(int sock, int fd);

// Sends `fd` attached to `data` (not empty) in one message, as runc sends a
// container's listener with its state to the listenerPath; false on failure or
// a short send.
bool SendFdWith(int sock, int fd, std::string_view data);

// The fd sent by SendFd (close-on-exec), or none when the peer ended without
// sending one.
fd::OwnedFd ReceiveFd(int sock);

}  // namespace nvgate::supervisor
