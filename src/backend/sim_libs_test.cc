// The simulated driver as NVIDIA's libraries meet it: another branch's struct
// layouts (sim_branch.h), the controls they make (sim_controls_libs.h) and the
// driver files and nodes their sandbox gets (sim_driver_files.h).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "abi/nv_structs.h"
#include "abi/nv_structs_libs.h"
#include "backend/backend.h"
#include "backend/sim_driver_files.h"
#include "backend/sim_gpu.h"

namespace nvgate::backend {
namespace {

using namespace nv;

class SimAsVersion {
 public:
  explicit SimAsVersion(const std::string& version) {
    SimOptions options;
    options.driver_version = version;
    sim_ = MakeSimBackend(options).value();
    // The driver is always called on one of its files.
    for (const DeviceNode& node : sim_->Nodes()) {
      int fd = ::open(node.source_path.c_str(), O_RDWR | O_CLOEXEC);
      if (node.kind == abi::DeviceKind::kCtl) ctl_ = fd;
      if (node.kind == abi::DeviceKind::kUvm) uvm_ = fd;
      fds_.push_back(fd);
    }
    NVOS21_PARAMETERS root{0, 0, 0, kNv01RootClient, 0, 0, 0};
    EXPECT_EQ(Call(kEscRmAlloc, &root, sizeof root), 0);
    client_ = root.hObjectNew;
  }
  int Call(std::uint32_t nr, void* arg, std::uint32_t size) {
    return sim_->Ioctl(ctl_, abi::DeviceKind::kCtl, _IOC(_IOC_READ | _IOC_WRITE, 'F', nr, size), arg, 0);
  }
  int Uvm(std::uint32_t request, void* arg) { return sim_->Ioctl(uvm_, abi::DeviceKind::kUvm, request, arg, 0); }
  ~SimAsVersion() {
    for (int fd : fds_) ::close(fd);
  }
  NvV32 RootControl(NvV32 cmd, void* params, NvU32 size) { return Control(client_, cmd, params, size); }
  // A control on GPU 0's subdevice, allocated (with its device) on first use.
  NvV32 SubdeviceControl(NvV32 cmd, void* params, NvU32 size) {
    if (subdevice_ == 0) {
      NV0080_ALLOC_PARAMETERS device_params{};
      NVOS21_PARAMETERS device{client_, client_, 0xd0, kNv01Device0, reinterpret_cast<std::uintptr_t>(&device_params), 0, 0};
      EXPECT_EQ(Call(kEscRmAlloc, &device, sizeof device), 0);
      EXPECT_EQ(device.status, kNvOk);
      NVOS21_PARAMETERS subdevice{client_, 0xd0, 0x5d, kNv20Subdevice0, 0, 0, 0};
      EXPECT_EQ(Call(kEscRmAlloc, &subdevice, sizeof subdevice), 0);
      EXPECT_EQ(subdevice.status, kNvOk);
      subdevice_ = 0x5d;
    }
    return Control(subdevice_, cmd, params, size);
  }

 private:
  NvV32 Control(NvHandle object, NvV32 cmd, void* params, NvU32 size) {
    NVOS54_PARAMETERS p{client_, object, cmd, 0, reinterpret_cast<std::uintptr_t>(params), size, 0};
    EXPECT_EQ(Call(kEscRmControl, &p, sizeof p), 0);
    return p.status;
  }

  std::unique_ptr<Backend> sim_;
  std::vector<int> fds_;
  int ctl_ = -1, uvm_ = -1;
  NvHandle client_ = 0;
  NvHandle subdevice_ = 0;
};

TEST(SimBranch, AnswersA535ClientInItsOwnLayout) {
  SimAsVersion sim("535.261.03");
  // 535's GET_PROBED_IDS has no gpuFlags: 256 bytes, and nothing past them is written.
  std::vector<NvU32> probed(64 + 8, 0xabababab);
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdGpuGetProbedIds, probed.data(), 256), kNvOk);
  EXPECT_EQ(probed[0], 0x100u);
  EXPECT_EQ(probed[1], kInvalidGpuId);
  EXPECT_EQ(probed[32], kInvalidGpuId) << "excludedGpuIds";
  EXPECT_EQ(probed[64], 0xababababu) << "past the 535 struct";
}

TEST(SimBranch, UvmStatusGoesAfterThe535Array) {
  SimAsVersion sim("535.261.03");
  UVM_INITIALIZE_PARAMS init{0, 0};
  ASSERT_EQ(sim.Uvm(kUvmInitialize, &init), 0);
  // 535: base, length, offset, perGpuAttributes[32] (36 bytes each), then
  // gpuAttributesCount, rmCtrlFd, hClient, hMemory, rmStatus (1200 bytes).
  std::vector<std::uint8_t> map(1200 + 64, 0xcd);
  std::memset(map.data(), 0, 1200);
  ASSERT_EQ(sim.Uvm(kUvmMapExternalAllocation, map.data()), 0);
  NvV32 status = 0xffffffff;
  std::memcpy(&status, map.data() + 1196, sizeof status);
  EXPECT_EQ(status, kNvOk);
  EXPECT_EQ(map[1200], 0xcd) << "past the 535 struct";
}

TEST(SimBranch, UnsupportedVersionIsRefused) {
  SimOptions options;
  options.driver_version = "123.45.67";
  auto sim = MakeSimBackend(options);
  ASSERT_FALSE(sim);
  EXPECT_THAT(sim.error(), ::testing::HasSubstr("123.45.67"));
}

TEST(SimLibraryControls, PciInfoAndBuildVersionAsTheDriverAnswers) {
  SimAsVersion sim("550.163.01");
  NV0000_CTRL_GPU_GET_PCI_INFO_PARAMS pci{0x100, 7, 7, 7};
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdGpuGetPciInfo, &pci, sizeof pci), kNvOk);
  EXPECT_EQ(pci.domain, 0u);
  EXPECT_EQ(pci.bus, 0x18);
  EXPECT_EQ(pci.slot, 0);
  pci.gpuId = 0x200;
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdGpuGetPciInfo, &pci, sizeof pci), kNvErrInvalidArgument);

  // A NULL string pointer asks only for the size the strings need.
  NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_PARAMS build{};
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdSystemGetBuildVersion, &build, sizeof build), kNvOk);
  ASSERT_EQ(build.sizeOfStrings, sizeof "nvgate simulated driver");
  char driver[64] = {}, version[64] = {}, title[64] = {};
  build.pDriverVersionBuffer = reinterpret_cast<std::uintptr_t>(driver);
  build.pVersionBuffer = reinterpret_cast<std::uintptr_t>(version);
  build.pTitleBuffer = reinterpret_cast<std::uintptr_t>(title);
  build.sizeOfStrings = 4;
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdSystemGetBuildVersion, &build, sizeof build), kNvErrInvalidParamStruct);
  build.sizeOfStrings = sizeof driver;
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdSystemGetBuildVersion, &build, sizeof build), kNvOk);
  EXPECT_STREQ(driver, "550.163.01");
  EXPECT_STREQ(title, "nvgate simulated driver");

  NV0000_CTRL_GPU_QUERY_DRAIN_STATE_PARAMS drain{0x100, 9, 9};
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdGpuQueryDrainState, &drain, sizeof drain), kNvOk);
  EXPECT_EQ(drain.drainState, 0u);
  NV0000_CTRL_CLIENT_SET_INHERITED_SHARE_POLICY_PARAMS share{{0, 0, kRsShareTypeMax, 0}};
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdClientSetInheritedSharePolicy, &share, sizeof share), kNvErrInvalidArgument);
}

// What CUDA's cuInit asks on every branch (535.261.03, 550.163.01), and the
// H200's answers (docs/gpu-validation.md): what the driver source computes,
// the PCIe link registers as the H200 read them.
TEST(SimLibraryControls, BusInfoAsTheDriverComputesIt) {
  SimAsVersion sim("535.261.03");
  NV2080_CTRL_BUS_GET_INFO_V2_PARAMS bus{};
  const NvU32 asked[] = {0x0, 0x2, 0xb, 0xf, 0x10, 0x2c, 0x2d, 0x3, 0x6};
  for (NvU32 index : asked) bus.busInfoList[bus.busInfoListSize++] = {index, 0xdead};
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdBusGetInfoV2, &bus, sizeof bus), kNvOk);
  const NvU32 answers[] = {3, 0, 5, 0x18, 0, 0, 0x444000, 0x457905, 0};
  for (std::size_t i = 0; i < std::size(answers); ++i) {
    EXPECT_EQ(bus.busInfoList[i].data, answers[i]) << "index " << asked[i];
  }

  // An index past the driver's last, and one the sim does not model (the
  // interrupt line), end the list with the driver's and the sim's status.
  bus.busInfoListSize = 2;
  bus.busInfoList[1].index = 0x34;
  EXPECT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdBusGetInfoV2, &bus, sizeof bus), kNvErrInvalidArgument);
  EXPECT_EQ(bus.busInfoList[0].data, 3u) << "the entry before keeps its answer";
  bus.busInfoList[1].index = 0x1;
  EXPECT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdBusGetInfoV2, &bus, sizeof bus), kNvErrNotSupported);
  bus.busInfoListSize = 0;
  EXPECT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdBusGetInfoV2, &bus, sizeof bus), kNvErrInvalidArgument);
  bus.busInfoListSize = 53;
  EXPECT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdBusGetInfoV2, &bus, sizeof bus), kNvErrInvalidArgument);
}

TEST(SimLibraryControls, PciBarsAreTheCardsFourBars) {
  SimAsVersion sim("550.163.01");
  NV2080_CTRL_BUS_GET_PCI_BAR_INFO_PARAMS bars{};
  bars.pciBarInfo[5].barSize = 7;
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdBusGetPciBarInfo, &bars, sizeof bars), kNvOk);
  ASSERT_EQ(bars.pciBarCount, 4u);
  EXPECT_EQ(bars.pciBarInfo[0].barOffset, SimGpuRegAddress(0)) << "what CARD_INFO says";
  EXPECT_EQ(bars.pciBarInfo[0].barSize, 16u);
  EXPECT_EQ(bars.pciBarInfo[1].barSizeBytes, kSimGpuFbSize);
  EXPECT_EQ(bars.pciBarInfo[2].barOffset, SimGpuFbAddress(0) + kSimGpuFbSize);
  EXPECT_EQ(bars.pciBarInfo[3].barSizeBytes, 0u) << "no I/O BAR";
  EXPECT_EQ(bars.pciBarInfo[5].barSize, 0u) << "the rest cleared";
}

TEST(SimLibraryControls, ASiliconPcieGpuWithoutFabricOrMemops) {
  SimAsVersion sim("535.261.03");
  NV2080_CTRL_GPU_GET_SIMULATION_INFO_PARAMS simulation{9};
  EXPECT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGpuGetSimulationInfo, &simulation, sizeof simulation), kNvOk);
  EXPECT_EQ(simulation.type, kNv2080CtrlGpuGetSimulationInfoTypeNone);
  NV0000_CTRL_GPU_GET_MEMOP_ENABLE_PARAMS memop{9};
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdGpuGetMemopEnable, &memop, sizeof memop), kNvOk);
  EXPECT_EQ(memop.enableMask, 0u);
  // 535's probe info ends after fabricCaps (40 bytes); the state is written,
  // nothing past the struct.
  std::vector<std::uint8_t> probe(40 + 8, 0xab);
  EXPECT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGetGpuFabricProbeInfo, probe.data(), 40), kNvOk);
  EXPECT_EQ(probe[0], kNv2080CtrlGpuFabricProbeStateUnsupported);
  EXPECT_EQ(probe[40], 0xab);
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SimDriverFiles, WhatTheLibrariesReadAndTheNodesNumbers) {
  char tmpl[] = "/tmp/nvgate-sim-files-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto trees = WriteSimDriverFiles(dir, "535.261.03", 2).value();
  ASSERT_EQ(trees.size(), 3u);
  EXPECT_EQ(trees[0].target, "/proc/driver");
  EXPECT_EQ(Read(trees[1].source_dir + "/nvidia/initstate"), "live\n");
  EXPECT_THAT(Read(trees[0].source_dir + "/nvidia/params"), ::testing::HasSubstr("ModifyDeviceFiles: 0\n"));
  EXPECT_THAT(Read(trees[0].source_dir + "/nvidia/version"), ::testing::HasSubstr(" 535.261.03 "));
  std::string config = Read(trees[2].source_dir + "/0000:19:00.0/config");
  ASSERT_EQ(config.size(), 256u);
  EXPECT_EQ(config.substr(0, 4), std::string("\xde\x10\x30\x23", 4)) << "NVIDIA, H100";
  EXPECT_EQ(config.substr(9, 3), std::string("\x00\x02\x03", 3)) << "3D controller";
  std::filesystem::remove_all(dir);

  std::vector<DeviceNode> nodes = WithDriverNumbers({{"/dev/nvidiactl", "a", abi::DeviceKind::kCtl},
                                                     {"/dev/nvidia-uvm", "b", abi::DeviceKind::kUvm},
                                                     {"/dev/nvidia0", "c", abi::DeviceKind::kGpu},
                                                     {"/dev/nvidia1", "d", abi::DeviceKind::kGpu}});
  EXPECT_EQ(nodes[0].rdev, makedev(195, 255));
  EXPECT_EQ(nodes[1].rdev, 0u) << "UVM's major is dynamic: a bound file";
  EXPECT_EQ(nodes[2].rdev, makedev(195, 0));
  EXPECT_EQ(nodes[3].rdev, makedev(195, 1));
}

}  // namespace
}  // namespace nvgate::backend
