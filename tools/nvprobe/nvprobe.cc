// nvprobe: does at the driver level what CUDA, NVML, video and graphics users
// do, and prints what succeeded and what was refused. Runs on a GPU host, and
// under `nvgate run` on the real or the simulated driver. The steps are in
// probe_steps.cc.
#include <cstdio>
#include <string>
#include <vector>

#include "tools/nvprobe/probe_steps.h"

namespace {

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: nvprobe [--json] [--no-pageable-copy]\n"
               "Exercises the NVIDIA driver the way CUDA, NVML, video and graphics users do, and\n"
               "prints one line per step: ok, refused (the driver's or nvgate's refusal) or failed.\n"
               "  --json              one JSON array of the steps at the end\n"
               "  --no-pageable-copy  skip the step that pins 64 MiB of nvprobe's own memory, as CUDA's\n"
               "                      pageable copies do (to replay traces recorded before it existed)\n"
               "Exit status: 0 when it ran to the end, 1 when a step failed, 2 when it could not start.\n"
               "Example:\n"
               "  nvgate run --backend sim --caps compute -- nvprobe\n");
}

}  // namespace

// In sanitizer builds: LeakSanitizer stops the world with ptrace, which
// nvgate's filter denies to the workload, so its end-of-run check would abort
// every run under nvgate. Leaks are checked in nvgate's own processes.
extern "C" int __lsan_is_turned_off() { return 1; }

int main(int argc, char** argv) {
  nvprobe::ProbeOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      options.json = true;
    } else if (a == "--no-pageable-copy") {
      options.pageable_copy = false;
    } else if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    } else {
      Usage(stderr);
      return 2;
    }
  }
  std::vector<nvprobe::Step> steps;
  return nvprobe::RunProbe(nvprobe::SystemDriverOps(), options, steps);
}
