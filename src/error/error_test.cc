#include "error/error.h"

#include <cerrno>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace nvgate {
namespace {

TEST(ErrorTest, FormatsAsItsMessageAlone) {
  EXPECT_EQ(fmt::format("{}", Error::Malformed("line 3: bad number")), "line 3: bad number");
  EXPECT_EQ(fmt::format("nvgate run: {}", Error::Usage("--gpus: no GPU 9")), "nvgate run: --gpus: no GPU 9");
}

TEST(ErrorTest, ErrnoKeepsTheErrnoAndSaysWhatFailed) {
  errno = ENOENT;
  Error e = Error::Errno("bind /run/x.sock");
  EXPECT_EQ(e.kind, ErrorKind::kSystem);
  EXPECT_EQ(e.errno_value, ENOENT);
  EXPECT_EQ(e.message, "bind /run/x.sock: No such file or directory");
}

TEST(ErrorTest, PrefixedKeepsKindAndErrno) {
  const Error e = Error::System(EACCES, "open: Permission denied");
  Error prefixed = e.Prefixed("--metrics unix:/x: ");
  EXPECT_EQ(prefixed.kind, ErrorKind::kSystem);
  EXPECT_EQ(prefixed.errno_value, EACCES);
  EXPECT_EQ(prefixed.message, "--metrics unix:/x: open: Permission denied");
  EXPECT_EQ(Error::Refused("x").Prefixed("a: ").message, "a: x");
}

TEST(ErrorTest, EveryKindHasItsOwnId) {
  const ErrorKind kinds[] = {ErrorKind::kUsage,    ErrorKind::kConfig,  ErrorKind::kMalformed, ErrorKind::kUnsupported,
                             ErrorKind::kNotFound, ErrorKind::kRefused, ErrorKind::kSystem,    ErrorKind::kExec,
                             ErrorKind::kDiverged, ErrorKind::kInternal};
  std::set<std::string_view> ids;
  for (ErrorKind kind : kinds) ids.insert(ErrorKindId(kind));
  EXPECT_EQ(ids.size(), std::size(kinds));
  EXPECT_EQ(Error::Usage("x").id(), "usage");
  EXPECT_EQ(Error::System(EIO, "x").id(), "system");
  EXPECT_EQ(Error::Diverged("x").id(), "diverged");
}

TEST(ErrorTest, ResultCarriesAValueOrAnError) {
  Result<int> ok = 3;
  Result<int> failed = tl::unexpected(Error::NotFound("no GPU 9"));
  EXPECT_EQ(*ok, 3);
  EXPECT_EQ(failed.error().kind, ErrorKind::kNotFound);
}

}  // namespace
}  // namespace nvgate
