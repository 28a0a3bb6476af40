// nvprobe's steps, natively against the simulated driver's rules.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tools/nvprobe/in_process_sim.h"

namespace nvprobe {
namespace {

std::map<std::string, std::string> Results(const std::vector<Step>& steps) {
  std::map<std::string, std::string> out;
  for (const Step& s : steps) out[s.step.substr(0, s.step.find(" 0x"))] = s.result + " " + s.detail;
  return out;
}

TEST(NvprobeNatively, EveryStepPassesTheDriversCallerRules) {
  InProcessSim sim;
  std::vector<Step> steps;
  EXPECT_EQ(RunProbe(sim.Ops(), {.json = true}, steps), 0);
  for (const Step& s : steps) EXPECT_EQ(s.result, "ok") << s.step << ": " << s.detail;
  auto r = Results(steps);
  EXPECT_EQ(r["device"], "ok ");
  EXPECT_EQ(r["UVM register GPU"], "ok ");
  EXPECT_EQ(r["system memory mmapped and written"], "ok ");
}

// What the driver says to a process that holds no file of the GPU: the device
// is refused, as it was for nvprobe under nvgate before the supervisor held the
// workload's GPU files for such a call.
TEST(NvprobeNatively, WithoutTheGpusFileTheDeviceIsRefused) {
  InProcessSim sim(1, "/dev/nvidia0");
  std::vector<Step> steps;
  RunProbe(sim.Ops(), {.json = true}, steps);
  auto r = Results(steps);
  EXPECT_EQ(r["device"], "failed NV_STATUS 0x1b") << "NV_ERR_INSUFFICIENT_PERMISSIONS";
}

}  // namespace
}  // namespace nvprobe
