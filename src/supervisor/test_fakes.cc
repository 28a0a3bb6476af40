#include "supervisor/test_fakes.h"

#include <dirent.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "supervisor/fd_passing.h"

namespace nvgate::supervisor::testing {

const abi::Table& TestTable() {
  static const abi::Table table = [] {
    auto t = abi::Table::Parse(
        "#branch\t999\n#versions\t999.1.2\n"
        "frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\tNVOS54_PARAMETERS\t32\t-\n"
        "frontend\tNV_ESC_RM_ALLOC\t0x2b\tbase\trm_alloc\tNVOS21_PARAMETERS\t32\t-\n"
        "frontend\tNV_ESC_CARD_INFO\t0xc8\tbase\tbytes\t-\t0\t-\n"
        "uvm\tUVM_INITIALIZE\t0x30000001\tcompute\tuvm_initialize\tUVM_INITIALIZE_PARAMS\t16\t-\n"
        "uvm\tUVM_PAGEABLE_MEM_ACCESS\t0x27\tcompute\tsimple\tP\t8\t-\n");
    if (!t) {
      std::fprintf(stderr, "test table: %s\n", t.error().message.c_str());
      std::abort();
    }
    return std::move(*t);
  }();
  return table;
}

FakeBackend::FakeBackend() {
  char path[] = "/tmp/nvgate-fake-ctl-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) std::abort();
  struct stat st {};
  fstat(fd, &st);
  close(fd);
  path_ = path;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
}

FakeBackend::~FakeBackend() { unlink(path_.c_str()); }

abi::DeviceKind FakeBackend::Classify(const struct stat& st) const {
  return st.st_dev == dev_ && st.st_ino == ino_ ? abi::DeviceKind::kCtl : abi::DeviceKind::kNotNvidia;
}

std::vector<backend::DeviceNode> FakeBackend::Nodes() const {
  return {{"/dev/nvidiactl", path_, abi::DeviceKind::kCtl}};
}

proxy::Reply FakeExecutor::Increment(const proxy::Call& call, proxy::TargetMemory& memory,
                                     proxy::TargetFiles&) {
  if (call.arg != 0) {
    std::uint64_t v = 0;
    if (!memory.Read(call.arg, &v, sizeof(v))) return {.error = EFAULT};
    ++v;
    if (!memory.Write(call.arg, &v, sizeof(v))) return {.error = EFAULT};
  }
  return {.value = call.request & 0xff};
}

namespace {

// In the forked workload: the filter installed, its listener sent up
// `sock`, then `body`. Never returns.
[[noreturn]] void RunFiltered(const Program& program, int sock, const std::function<int()>& body) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
  int listener = InstallFilter(program);
  if (listener < 0) _exit(121);
  if (!SendFd(sock, listener)) _exit(122);
  close(listener);
  close(sock);
  _exit(body());
}

// Forks `child` with one end of a socketpair and takes the listener it sends
// up the other.
Workload Start(const std::function<void(int sock)>& child) {
  int socks[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(socks[0]);
    child(socks[1]);
    _exit(123);
  }
  close(socks[1]);
  Workload w{pid, -1};
  w.listener = ReceiveFd(socks[0]).release();
  close(socks[0]);
  return w;
}

}  // namespace

Workload StartWorkload(const TrapRules& rules, const std::function<int()>& body) {
  auto program = BuildFilter(rules);
  if (!program) std::abort();
  return Start([&](int sock) { RunFiltered(*program, sock, body); });
}

Workload StartWorkloadInPidNamespace(const TrapRules& rules, const std::function<int()>& body) {
  auto program = BuildFilter(rules);
  if (!program) std::abort();
  return Start([&](int sock) {
    if (unshare(CLONE_NEWPID) != 0) _exit(119);
    pid_t init = fork();
    if (init < 0) _exit(119);
    if (init == 0) RunFiltered(*program, sock, body);
    close(sock);
    _exit(WaitExit(init));
  });
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int CountOpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the directory's own fd
}

}  // namespace nvgate::supervisor::testing
