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
      if (node.kind == abi::DeviceKind::kGpu && gpu_ < 0) gpu_ = fd;
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
  NvV32 DeviceControl(NvV32 cmd, void* params, NvU32 size) {
    Subdevice();
    return Control(0xd0, cmd, params, size);
  }
  NvV32 ObjectControl(NvHandle object, NvV32 cmd, void* params, NvU32 size) {
    return Control(object, cmd, params, size);
  }
  // Allocates `handle` of `cls` under GPU 0's subdevice; its status.
  NvV32 AllocUnderSubdevice(NvHandle handle, NvV32 cls, void* params) {
    NVOS21_PARAMETERS alloc{client_, Subdevice(), handle, cls, reinterpret_cast<std::uintptr_t>(params), 0, 0};
    EXPECT_EQ(Call(kEscRmAlloc, &alloc, sizeof alloc), 0);
    return alloc.status;
  }
  NvHandle client() const { return client_; }
  // Allocates `handle` of `cls` under `parent`; its status.
  NvV32 Alloc(NvHandle parent, NvHandle handle, NvV32 cls, void* params) {
    NVOS21_PARAMETERS alloc{client_, parent, handle, cls, reinterpret_cast<std::uintptr_t>(params), 0, 0};
    EXPECT_EQ(Call(kEscRmAlloc, &alloc, sizeof alloc), 0);
    return alloc.status;
  }
  int gpu_fd() const { return gpu_; }
  // A control on GPU 0's subdevice, allocated (with its device) on first use.
  NvV32 SubdeviceControl(NvV32 cmd, void* params, NvU32 size) { return Control(Subdevice(), cmd, params, size); }
  NvHandle Subdevice() {
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
    return subdevice_;
  }

 private:
  NvV32 Control(NvHandle object, NvV32 cmd, void* params, NvU32 size) {
    NVOS54_PARAMETERS p{client_, object, cmd, 0, reinterpret_cast<std::uintptr_t>(params), size, 0};
    EXPECT_EQ(Call(kEscRmControl, &p, sizeof p), 0);
    return p.status;
  }

  std::unique_ptr<Backend> sim_;
  std::vector<int> fds_;
  int ctl_ = -1, uvm_ = -1, gpu_ = -1;
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
  EXPECT_THAT(sim.error().message, ::testing::HasSubstr("123.45.67"));
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

// The graphics engine as the firmware reports it (the H200's: 8 GPCs, 66 TPCs,
// 132 SMs), in 535's and 580's layouts.
TEST(SimLibraryControls, GraphicsFloorsweepingAndSmOrder) {
  SimAsVersion sim("550.163.01");
  NV2080_CTRL_GR_GET_GPC_MASK_PARAMS gpcs{};
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGrGetGpcMask, &gpcs, sizeof gpcs), kNvOk);
  EXPECT_EQ(gpcs.gpcMask, 0xffu);
  int tpcs = 0;
  for (NvU32 gpc = 0; gpc < 9; ++gpc) {
    NV2080_CTRL_GR_GET_TPC_MASK_PARAMS tpc{};
    tpc.gpcId = gpc;
    ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGrGetTpcMask, &tpc, sizeof tpc), kNvOk);
    tpcs += __builtin_popcount(tpc.tpcMask);
    if (gpc == 8) {
      EXPECT_EQ(tpc.tpcMask, 0u) << "past the GPCs: mask 0";
    }
  }
  EXPECT_EQ(tpcs, 66);

  NV2080_CTRL_GR_GET_CAPS_V2_PARAMS caps{};
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGrGetCapsV2, &caps, sizeof caps), kNvOk);
  EXPECT_EQ(caps.bCapsPopulated, 1);
  EXPECT_EQ(caps.capsTbl[0], 0xb0);
  caps.capsTbl[0] = 0x77;
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGrGetCapsV2, &caps, sizeof caps), kNvOk);
  EXPECT_EQ(caps.capsTbl[0], 0x77) << "a populated table is left as it is";

  NV2080_CTRL_GR_GET_SM_ISSUE_RATE_MODIFIER_PARAMS rate{};
  rate.ffma = 9;
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGrGetSmIssueRateModifier, &rate, sizeof rate), kNvOk);
  EXPECT_EQ(rate.ffma, 0);

  // 550's layout: six NvU16 per SM, the counts after 512 of them.
  std::vector<std::uint16_t> order(kGrGetGlobalSmOrderParams550Size / 2, 0xabab);
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGrGetGlobalSmOrder, order.data(), kGrGetGlobalSmOrderParams550Size),
            kNvOk);
  EXPECT_EQ(order[512 * 6], 132) << "numSm";
  EXPECT_EQ(order[512 * 6 + 1], 66) << "numTpc";
  EXPECT_EQ(order[131 * 6 + 2], 1) << "the last SM is its TPC's second";
  EXPECT_EQ(order[131 * 6 + 3], 65) << "of the last TPC";
  EXPECT_EQ(order[132 * 6], 0xabab) << "entries past numSm are left";
  auto own = std::make_unique<NV2080_CTRL_GR_GET_GLOBAL_SM_ORDER_PARAMS>();
  SimAsVersion sim580("580.142");
  ASSERT_EQ(sim580.SubdeviceControl(kNv2080CtrlCmdGrGetGlobalSmOrder, own.get(), sizeof *own), kNvOk);
  EXPECT_EQ(own->numSm, 132);
  EXPECT_EQ(own->globalSmId[124].virtualGpcId, 11) << "580 has the virtual TPC fields";
  EXPECT_EQ(own->globalSmId[124].physicalCpcId, 1);
}

TEST(SimLibraryControls, CopyEngineAndFramebufferCaps) {
  // 535: 32 engines and a 32-bit mask (68 bytes); 550 and later: 64 and 64 bits.
  SimAsVersion sim535("535.261.03");
  std::vector<std::uint8_t> ce(kCeGetAllCapsParams535Size + 4, 0xcd);
  ASSERT_EQ(sim535.SubdeviceControl(kNv2080CtrlCmdCeGetAllCaps, ce.data(), kCeGetAllCapsParams535Size), kNvOk);
  EXPECT_EQ(ce[0], 0xe3);
  EXPECT_EQ(ce[1], 0x03);
  EXPECT_EQ(ce[2], 0) << "no CE1";
  EXPECT_EQ(ce[64], 1) << "present: CE0";
  EXPECT_EQ(ce[kCeGetAllCapsParams535Size], 0xcd) << "past the 535 struct";
  SimAsVersion sim550("550.163.01");
  NV2080_CTRL_CE_GET_ALL_CAPS_PARAMS all{};
  ASSERT_EQ(sim550.SubdeviceControl(kNv2080CtrlCmdCeGetAllCaps, &all, sizeof all), kNvOk);
  EXPECT_EQ(all.present, 1u);
  EXPECT_EQ(all.capsTbl[0][0], 0xe3);

  NV0080_CTRL_FB_GET_CAPS_V2_PARAMS fb{};
  ASSERT_EQ(sim550.DeviceControl(kNv0080CtrlCmdFbGetCapsV2, &fb, sizeof fb), kNvOk);
  EXPECT_EQ(fb.capsTbl[0], 0x0b);
  EXPECT_EQ(fb.capsTbl[1], 0x81);
  EXPECT_EQ(fb.capsTbl[2], 0x12);
}

TEST(SimLibraryControls, FirmwareFeaturesAndShortName) {
  SimAsVersion sim("535.216.03");
  NV2080_CTRL_GSP_GET_FEATURES_PARAMS gsp{};
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGspGetFeatures, &gsp, sizeof gsp), kNvOk);
  EXPECT_EQ(gsp.bValid, 1);
  EXPECT_EQ(gsp.gspFeatures, kNv2080CtrlGspGetFeaturesUvmEnabled);
  EXPECT_STREQ(reinterpret_cast<const char*>(gsp.firmwareVersion), "535.216.03") << "the driver's own version";
  NV2080_CTRL_GPU_GET_SHORT_NAME_STRING_PARAMS name{};
  ASSERT_EQ(sim.SubdeviceControl(kNv2080CtrlCmdGpuGetShortNameString, &name, sizeof name), kNvOk);
  EXPECT_STREQ(reinterpret_cast<const char*>(name.gpuShortNameString), "GH100GL-A");
}

// The usermode doorbell page: its address space, its mapping through the GPU
// file, and the mapping found under its new address once updated.
TEST(SimLibraryControls, UsermodeAddressSpaceAndMapping) {
  SimAsVersion sim("550.163.01");
  ASSERT_EQ(sim.AllocUnderSubdevice(0x600, kHopperUsermodeA, nullptr), kNvOk);
  NV_HOPPER_USERMODE_A_PARAMS bar1{1, 0};
  ASSERT_EQ(sim.AllocUnderSubdevice(0x601, kHopperUsermodeA, &bar1), kNvOk);
  NV0000_CTRL_CLIENT_GET_ADDR_SPACE_TYPE_PARAMS type{0x600, 0, 0};
  ASSERT_EQ(sim.RootControl(kNv0000CtrlCmdClientGetAddrSpaceType, &type, sizeof type), kNvOk);
  EXPECT_EQ(type.addrSpaceType, kNv0000CtrlClientGetAddrSpaceTypeRegmem);
  type = {0x601, 0, 0};
  ASSERT_EQ(sim.RootControl(kNv0000CtrlCmdClientGetAddrSpaceType, &type, sizeof type), kNvOk);
  EXPECT_EQ(type.addrSpaceType, kNv0000CtrlClientGetAddrSpaceTypeVidmem);
  type = {0x999, 0, 0};
  EXPECT_EQ(sim.RootControl(kNv0000CtrlCmdClientGetAddrSpaceType, &type, sizeof type), kNvErrObjectNotFound);

  nv_ioctl_nvos33_parameters_with_fd map{};
  map.params = {sim.client(), 0xd0, 0x600, 0, 64 << 10, 0, 0, 0};
  map.fd = sim.gpu_fd();
  ASSERT_EQ(sim.Call(kEscRmMapMemory, &map, sizeof map), 0);
  ASSERT_EQ(map.params.status, kNvOk);
  map.params.length = (64 << 10) + 1;
  ASSERT_EQ(sim.Call(kEscRmMapMemory, &map, sizeof map), 0);
  EXPECT_EQ(map.params.status, kNvErrInvalidLimit) << "past the 64 KiB page";

  NVOS56_PARAMETERS update{sim.client(), 0xd0, 0x600, map.params.pLinearAddress, 0x7f0000000000, 0};
  ASSERT_EQ(sim.Call(kEscRmUpdateDeviceMappingInfo, &update, sizeof update), 0);
  ASSERT_EQ(update.status, kNvOk);
  NVOS34_PARAMETERS unmap{sim.client(), 0xd0, 0x600, map.params.pLinearAddress, 0, 0};
  ASSERT_EQ(sim.Call(kEscRmUnmapMemory, &unmap, sizeof unmap), 0);
  EXPECT_EQ(unmap.status, kNvErrObjectNotFound) << "no longer under its old address";
  unmap.pLinearAddress = 0x7f0000000000;
  ASSERT_EQ(sim.Call(kEscRmUnmapMemory, &unmap, sizeof unmap), 0);
  EXPECT_EQ(unmap.status, kNvOk);
}

TEST(SimLibraryControls, ThirdPartyP2pOverBar1AndItsVaSpaceTokens) {
  SimAsVersion sim("535.261.03");
  EXPECT_EQ(sim.AllocUnderSubdevice(0x700, kNv50ThirdPartyP2p, nullptr), kNvErrNotSupported)
      << "no parameters: PROPRIETARY";
  NV503C_ALLOC_PARAMETERS nvlink{kNv503cAllocParametersFlagsTypeNvlink};
  EXPECT_EQ(sim.AllocUnderSubdevice(0x700, kNv50ThirdPartyP2p, &nvlink), kNvErrInvalidState);
  NV503C_ALLOC_PARAMETERS bar1{kNv503cAllocParametersFlagsTypeBar1};
  ASSERT_EQ(sim.AllocUnderSubdevice(0x700, kNv50ThirdPartyP2p, &bar1), kNvOk);
  NV503C_CTRL_REGISTER_VA_SPACE_PARAMS va{0x800, 0};
  ASSERT_EQ(sim.ObjectControl(0x700, kNv503cCtrlCmdRegisterVaSpace, &va, sizeof va), kNvOk);
  EXPECT_EQ(va.vaSpaceToken, 0xfe00u);
  EXPECT_EQ(sim.ObjectControl(0x700, kNv503cCtrlCmdRegisterVaSpace, &va, sizeof va), kNvErrInsertDuplicateName);
  va.hVASpace = 0x801;
  ASSERT_EQ(sim.ObjectControl(0x700, kNv503cCtrlCmdRegisterVaSpace, &va, sizeof va), kNvOk);
  EXPECT_EQ(va.vaSpaceToken, 0xfe01u);
}

// What cuCtxCreate makes before it asks the context buffer size: memory
// objects of a size, UVM external ranges, a channel's ID and its objects' engines.
TEST(SimLibraryControls, ContextCreationUpToTheContextBufferSize) {
  SimAsVersion sim("580.142");
  sim.Subdevice();
  NV_MEMORY_ALLOCATION_PARAMS vidmem{};
  vidmem.size = 0x1234;
  ASSERT_EQ(sim.Alloc(0xd0, 0x300, kNv01MemoryLocalUser, &vidmem), kNvOk);
  EXPECT_EQ(vidmem.size, 64u << 10) << "the heap's alignment";
  EXPECT_GE(vidmem.offset, 1ull << 30) << "past RM's reserve";
  EXPECT_EQ(vidmem.limit, vidmem.offset + vidmem.size - 1);
  nv_ioctl_nvos33_parameters_with_fd map{};
  map.params = {sim.client(), 0xd0, 0x300, 0, 64 << 10, 0, 0, 0};
  map.fd = sim.gpu_fd();
  ASSERT_EQ(sim.Call(kEscRmMapMemory, &map, sizeof map), 0);
  EXPECT_EQ(map.params.status, kNvOk) << "the whole allocation maps";
  NV_MEMORY_ALLOCATION_PARAMS sysmem{};
  sysmem.size = 5000;
  ASSERT_EQ(sim.Alloc(0xd0, 0x301, kNv01MemorySystem, &sysmem), kNvOk);
  EXPECT_EQ(sysmem.limit, 8191u) << "whole pages";
  sysmem.size = 0;
  EXPECT_EQ(sim.Alloc(0xd0, 0x302, kNv01MemorySystem, &sysmem), kNvErrInvalidArgument);

  UVM_INITIALIZE_PARAMS init{0, 0};
  ASSERT_EQ(sim.Uvm(kUvmInitialize, &init), 0);
  UVM_CREATE_EXTERNAL_RANGE_PARAMS range{0x200000, 0x200000, 0xff};
  ASSERT_EQ(sim.Uvm(kUvmCreateExternalRange, &range), 0);
  EXPECT_EQ(range.rmStatus, kNvOk);
  range = {0x300000, 0x200000, 0xff};
  ASSERT_EQ(sim.Uvm(kUvmCreateExternalRange, &range), 0);
  EXPECT_EQ(range.rmStatus, kNvErrUvmAddressInUse);
  range = {0x100000, 0x100800, 0xff};
  ASSERT_EQ(sim.Uvm(kUvmCreateExternalRange, &range), 0);
  EXPECT_EQ(range.rmStatus, kNvErrInvalidAddress) << "not 4K-aligned";
  UVM_FREE_PARAMS free_range{0x200000, 0x200000, 0xff};
  ASSERT_EQ(sim.Uvm(kUvmFree, &free_range), 0);
  range = {0x300000, 0x200000, 0xff};
  ASSERT_EQ(sim.Uvm(kUvmCreateExternalRange, &range), 0);
  EXPECT_EQ(range.rmStatus, kNvOk) << "free gave the range back";

  NV_CHANNEL_GROUP_ALLOCATION_PARAMETERS group{};
  group.engineType = kNv2080EngineTypeGraphics;
  ASSERT_EQ(sim.Alloc(0xd0, 0x400, kKeplerChannelGroupA, &group), kNvOk);
  NV_CHANNEL_ALLOC_PARAMS channel{};
  ASSERT_EQ(sim.Alloc(0x400, 0x401, kHopperChannelGpfifoA, &channel), kNvOk);
  ASSERT_EQ(sim.Alloc(0x400, 0x402, kHopperChannelGpfifoA, &channel), kNvOk);
  ASSERT_EQ(sim.Alloc(0x401, 0x403, kHopperComputeA, nullptr), kNvOk);
  NvU32 handles[] = {0x402, 0x401, 0x403};
  NvU32 chids[3] = {};
  NV0080_CTRL_FIFO_GET_CHANNELLIST_PARAMS list{3, reinterpret_cast<std::uintptr_t>(handles),
                                               reinterpret_cast<std::uintptr_t>(chids)};
  ASSERT_EQ(sim.DeviceControl(kNv0080CtrlCmdFifoGetChannellist, &list, sizeof list), kNvOk);
  EXPECT_EQ(chids[0], 1u);
  EXPECT_EQ(chids[1], 0u);
  EXPECT_EQ(chids[2], kNv0080CtrlFifoGetChannellistInvalidChannel) << "no channel";
  NV906F_CTRL_GET_CLASS_ENGINEID_PARAMS id{0x403, 0, 0, 0};
  ASSERT_EQ(sim.ObjectControl(0x401, kNv906fCtrlGetClassEngineid, &id, sizeof id), kNvOk);
  EXPECT_EQ(id.classID, kHopperComputeA);
  EXPECT_EQ(id.classEngineID, kHopperComputeA & 0xffff);
  EXPECT_EQ(id.engineID, kNv2080EngineTypeGraphics);
  id.hObject = 0;
  EXPECT_EQ(sim.ObjectControl(0x401, kNv906fCtrlGetClassEngineid, &id, sizeof id), kNvErrObjectNotFound);
  id.hObject = 0x403;
  EXPECT_EQ(sim.ObjectControl(0x402, kNv906fCtrlGetClassEngineid, &id, sizeof id), kNvErrObjectNotFound)
      << "another channel's object";
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
