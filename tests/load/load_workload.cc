// Load and churn under nvgate (docs/security.md, invariant 9): run as
// `load_workload OPEN_CLOSE_CYCLES` under `nvgate run --backend sim`.
//
// Prints "baseline" when it holds its steady state and waits for a line on
// stdin (the test samples the supervisor then); runs the load; prints its
// counts and "done", and waits for stdin to close (the test samples again).
//
// Counted calls are NV_ESC_CHECK_VERSION_STR; processes killed at random
// points use NV_ESC_CARD_INFO only, so the simulated driver's call log can be
// checked against the counted calls exactly.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "abi/nv_structs.h"
#include "testing/nv_calls.h"

namespace {

using namespace nvgate::nv;
using nvgate::testing::Frontend;
using nvgate::testing::OpenNode;
using nvgate::testing::QueryVersion;

constexpr int kThreads = 64;
constexpr int kProcesses = 32;
constexpr int kCallsEach = 200;
constexpr int kKilledProcesses = 16;

const unsigned long kVersion = Frontend(kEscCheckVersionStr, sizeof(nv_ioctl_rm_api_version_t));

// Calls from `threads` threads at once on one file; returns the calls that got
// anything but the version.
long Hammer(int ctl, int threads, int calls_each) {
  std::atomic<long> wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < calls_each; ++i) {
        if (QueryVersion(ctl, kVersion).rfind("ok:", 0) != 0) wrong.fetch_add(1);
      }
    });
  }
  for (std::thread& t : pool) t.join();
  return wrong.load();
}

}  // namespace

// LeakSanitizer stops the world with ptrace, which nvgate's filter denies.
extern "C" int __lsan_is_turned_off() { return 1; }

int main(int argc, char** argv) {
  long cycles = argc > 1 ? std::atol(argv[1]) : 100000;
  int ctl = OpenNode("/dev/nvidiactl");
  long counted = 0;
  long wrong = 0;
  wrong += QueryVersion(ctl, kVersion).rfind("ok:", 0) != 0;
  ++counted;
  std::cout << "baseline" << std::endl;
  std::string line;
  std::getline(std::cin, line);

  // 64 threads at once.
  wrong += Hammer(ctl, kThreads, kCallsEach);
  counted += long{kThreads} * kCallsEach;

  // 32 processes at once, each on a file of its own, two threads each.
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t child = ::fork();
    if (child == 0) {
      int own = OpenNode("/dev/nvidiactl");
      ::_exit(Hammer(own, 2, kCallsEach / 2) == 0 ? 0 : 1);
    }
    children.push_back(child);
  }
  for (pid_t child : children) {
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++wrong;
  }
  counted += long{kProcesses} * kCallsEach;

  // Processes killed at random points, mid-call or not.
  std::mt19937 random(1234);
  for (int k = 0; k < kKilledProcesses; ++k) {
    pid_t child = ::fork();
    if (child == 0) {
      int own = OpenNode("/dev/nvidiactl");
      nv_ioctl_card_info_t cards[32];
      for (;;) ::ioctl(own, Frontend(kEscCardInfo, sizeof cards), cards);
    }
    ::usleep(std::uniform_int_distribution<useconds_t>(0, 3000)(random));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }

  // Open, call, close.
  for (long i = 0; i < cycles; ++i) {
    int fd = OpenNode("/dev/nvidiactl");
    wrong += QueryVersion(fd, kVersion).rfind("ok:", 0) != 0;
    ::close(fd);
  }
  counted += cycles;

  std::cout << "counted=" << counted << " wrong=" << wrong << "\ndone" << std::endl;
  while (std::getline(std::cin, line)) {
  }
  return wrong == 0 ? 0 : 1;
}
