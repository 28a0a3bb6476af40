#include "fd/owned_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace nvgate::fd {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

int OpenNull() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  return fd;
}

TEST(OwnedFd, DefaultHoldsNothing) {
  OwnedFd fd;
  EXPECT_FALSE(fd);
  EXPECT_EQ(fd.get(), -1);
}

TEST(OwnedFd, NegativeDescriptorHoldsNothing) {
  OwnedFd fd(-1);
  EXPECT_FALSE(fd);
}

TEST(OwnedFd, ClosesOnDestruction) {
  int raw = OpenNull();
  {
    OwnedFd fd(raw);
    EXPECT_TRUE(fd);
    EXPECT_EQ(fd.get(), raw);
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(OwnedFd, ReleaseGivesUpOwnership) {
  int raw = OpenNull();
  {
    OwnedFd fd(raw);
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(IsOpen(raw));
  close(raw);
}

TEST(OwnedFd, ResetClosesTheOldDescriptor) {
  int first = OpenNull();
  int second = OpenNull();
  OwnedFd fd(first);
  fd.reset(second);
  EXPECT_FALSE(IsOpen(first));
  EXPECT_EQ(fd.get(), second);
  fd.reset();
  EXPECT_FALSE(IsOpen(second));
  EXPECT_FALSE(fd);
}

TEST(OwnedFd, MoveTransfersOwnership) {
  int raw = OpenNull();
  OwnedFd from(raw);
  OwnedFd to(std::move(from));
  EXPECT_FALSE(from);  // the moved-from state is what is tested
  EXPECT_EQ(to.get(), raw);

  int other = OpenNull();
  OwnedFd assigned(other);
  assigned = std::move(to);
  EXPECT_FALSE(IsOpen(other));
  EXPECT_EQ(assigned.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
}

TEST(OwnedFd, ClosingKeepsErrno) {
  OwnedFd fd(OpenNull());
  errno = EAGAIN;
  fd.reset();
  EXPECT_EQ(errno, EAGAIN);
}

TEST(OwnedFd, CloseReportsTheResult) {
  int raw = OpenNull();
  OwnedFd fd(raw);
  EXPECT_TRUE(fd.Close());
  EXPECT_FALSE(fd);
  EXPECT_FALSE(IsOpen(raw));
  EXPECT_TRUE(fd.Close());  // nothing held: nothing to fail
}

}  // namespace
}  // namespace nvgate::fd
