// Workloads that the supervisor's tests exec under the real filter, one thing
// per first argument; each exits 0 when what it saw is what the test expects.
//
//   supervisor_test_workload exit N        exits with N
//   supervisor_test_workload kill SIG      kills itself with SIG
//   supervisor_test_workload ioctl PATH    a trapped ioctl on PATH reaches the fake executor
//   supervisor_test_workload enotty PATH   a trapped ioctl on PATH is refused with ENOTTY
//   supervisor_test_workload devlist       /dev holds the private set, nvidiactl included
//   supervisor_test_workload pid           runs as pid 2 under an init of pid 1
//   supervisor_test_workload ioctl-pause PATH   a trapped ioctl, then waits for a signal
//   supervisor_test_workload catch-signals PATH  a trapped ioctl, then exits 42 once SIGUSR1, SIGHUP,
//                                          SIGUSR2, SIGWINCH and SIGCONT have each reached its handler
//   supervisor_test_workload caps MASK     holds no capability outside MASK (hex), all of it when root
//   supervisor_test_workload host-masked   /sys and /proc/sys read-only, /proc/kcore and PCI BARs and ROMs masked,
//                                          PCI config readable
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

namespace {

constexpr unsigned long kRmControl = 0xc020462a;  // _IOWR('F', 0x2a, 32)

int TrappedIoctl(const char* path, long* result) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "open %s: %s\n", path, std::strerror(errno));
    return -1;
  }
  std::uint64_t v = 41;
  long r = ioctl(fd, kRmControl, &v);
  *result = r < 0 ? -errno : r;
  close(fd);
  return static_cast<int>(v);
}

int DevList() {
  const std::set<std::string> allowed = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts",
                                         "shm", "fd", "stdin", "stdout", "stderr", "nvidiactl"};
  DIR* d = opendir("/dev");
  if (!d) return 2;
  bool ok = true;
  bool ctl = false;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (name == "nvidiactl") ctl = true;
    if (!allowed.count(name)) {
      std::fprintf(stderr, "unexpected /dev/%s\n", name.c_str());
      ok = false;
    }
  }
  closedir(d);
  return ok && ctl && access("/dev/null", W_OK) == 0 ? 0 : 1;
}

// The workload's capability sets (/proc/self/status) against `mask`: none
// outside it, no inheritable or ambient ones, and all of it when root (in its
// own user namespace or the host's).
int Caps(std::uint64_t mask) {
  std::ifstream status("/proc/self/status");
  bool ok = true;
  for (std::string line; std::getline(status, line);) {
    std::string key = line.substr(0, line.find(':'));
    if (key.rfind("Cap", 0) != 0 || key == "CapBnd") continue;
    std::uint64_t held = std::stoull(line.substr(line.find(':') + 1), nullptr, 16);
    bool fine = (key == "CapInh" || key == "CapAmb") ? held == 0
                                                    : (held & ~mask) == 0 && (geteuid() != 0 || held == mask);
    if (!fine) std::fprintf(stderr, "%s\n", line.c_str());
    ok = ok && fine;
  }
  return ok ? 0 : 1;
}

// Read-only, or absent on this kernel.
bool ReadOnly(const char* path) {
  struct statvfs st {};
  return statvfs(path, &st) == 0 ? (st.f_flag & ST_RDONLY) != 0 : errno == ENOENT;
}

// A masked file is the null device, or absent on this kernel.
bool Masked(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) != 0 ? errno == ENOENT : S_ISCHR(st.st_mode);
}

// A PCI function's config space: readable, as NVIDIA's libraries need it,
// and never writable (the read-only /sys).
bool ReadableNotWritable(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return errno == ENOENT;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || S_ISCHR(st.st_mode)) {
    std::fprintf(stderr, "%s: not readable config space\n", path.c_str());
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    std::fprintf(stderr, "%s: opened for writing\n", path.c_str());
    close(fd);
    return false;
  }
  return errno == EROFS;
}

// Handlers for the signals batch schedulers and terminals send: the workload
// exits 42 once each has reached its handler.
volatile sig_atomic_t g_caught = 0;
constexpr int kCaughtSignals[] = {SIGUSR1, SIGHUP, SIGUSR2, SIGWINCH, SIGCONT};

int CatchSignals(const char* path) {
  for (std::size_t i = 0; i < std::size(kCaughtSignals); ++i) {
    struct sigaction sa {};
    sa.sa_handler = [](int sig) {
      for (std::size_t j = 0; j < std::size(kCaughtSignals); ++j) {
        if (kCaughtSignals[j] == sig) g_caught = g_caught | (1 << j);
      }
    };
    sigaction(kCaughtSignals[i], &sa, nullptr);
  }
  long r = 0;
  TrappedIoctl(path, &r);
  const int all = (1 << std::size(kCaughtSignals)) - 1;
  while (g_caught != all) pause();
  return 42;
}

int HostMasked() {
  bool ok = ReadOnly("/sys") && ReadOnly("/proc/sys") && ReadOnly("/proc/sysrq-trigger") && Masked("/proc/kcore");
  if (DIR* d = opendir("/sys/bus/pci/devices")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string function = std::string("/sys/bus/pci/devices/") + e->d_name + "/";
      ok = ok && ReadableNotWritable(function + "config") && Masked(function + "rom");
      for (int bar = 0; bar < 6; ++bar) ok = ok && Masked(function + "resource" + std::to_string(bar));
    }
    closedir(d);
  }
  return ok ? 0 : 1;
}

}  // namespace

// In sanitizer builds: LeakSanitizer stops the world with ptrace, which
// nvgate's filter denies to the workload, so its end-of-run check would abort
// every run under nvgate. Leaks are checked in nvgate's own processes.
extern "C" int __lsan_is_turned_off() { return 1; }

int main(int argc, char** argv) {
  if (argc < 2) return 100;
  std::string mode = argv[1];
  if (mode == "exit" && argc == 3) return std::atoi(argv[2]);
  if (mode == "kill" && argc == 3) {
    kill(getpid(), std::atoi(argv[2]));
    return 101;
  }
  if ((mode == "ioctl" || mode == "ioctl-pause") && argc == 3) {
    long r = 0;
    int v = TrappedIoctl(argv[2], &r);
    if (mode == "ioctl-pause") {
      for (;;) pause();
    }
    return r == 0x2a && v == 42 ? 0 : 1;
  }
  if (mode == "catch-signals" && argc == 3) return CatchSignals(argv[2]);
  if (mode == "enotty" && argc == 3) {
    long r = 0;
    TrappedIoctl(argv[2], &r);
    return r == -ENOTTY ? 0 : 1;
  }
  if (mode == "devlist") return DevList();
  if (mode == "pid") return getpid() == 2 && getppid() == 1 ? 0 : 1;
  if (mode == "caps" && argc == 3) return Caps(std::stoull(argv[2], nullptr, 16));
  if (mode == "host-masked") return HostMasked();
  return 100;
}
