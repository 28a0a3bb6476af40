// The simulated driver, called directly with the driver's own structs.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "backend/sim_driver.h"

namespace nvgate::backend {
namespace {

using namespace nv;

std::uint32_t Req(std::uint32_t nr, std::uint32_t size) { return _IOC(_IOC_READ | _IOC_WRITE, 'F', nr, size); }

class SimTest : public ::testing::Test {
 protected:
  // The driver is always called on one of its files: the test holds one of
  // each kind, as a process using one GPU would, with its GPU file linked to
  // its control file (REGISTER_FD), as CUDA links every GPU file it opens.
  void SetUp() override {
    SimOptions options;
    options.gpu_count = gpu_count_;
    sim_ = MakeSimBackend(options).value();
    ctl_ = Open(abi::DeviceKind::kCtl);
    gpu_ = Open(abi::DeviceKind::kGpu);
    uvm_ = Open(abi::DeviceKind::kUvm);
    uvm_tools_ = Open(abi::DeviceKind::kUvmTools);
    nv_ioctl_register_fd_t reg{ctl_};
    ASSERT_EQ(CallOn(gpu_, abi::DeviceKind::kGpu, kEscRegisterFd, &reg, sizeof reg), 0);
  }

  int CallOn(int fd, abi::DeviceKind device, std::uint32_t nr, void* arg, std::uint32_t size) {
    return sim_->Ioctl(fd, device, Req(nr, size), arg, 0);
  }

  int FileOf(abi::DeviceKind device) const {
    switch (device) {
      case abi::DeviceKind::kCtl: return ctl_;
      case abi::DeviceKind::kGpu: return gpu_;
      case abi::DeviceKind::kUvm: return uvm_;
      case abi::DeviceKind::kUvmTools: return uvm_tools_;
      default: return -1;
    }
  }
  int Call(std::uint32_t nr, void* arg, std::uint32_t size, abi::DeviceKind device = abi::DeviceKind::kCtl) {
    return sim_->Ioctl(FileOf(device), device, Req(nr, size), arg, 0);
  }
  int Uvm(std::uint32_t request, void* arg) { return sim_->Ioctl(uvm_, abi::DeviceKind::kUvm, request, arg, 0); }
  // An open file of one of the sim's nodes, as the proxy would pass in parameters.
  int Open(abi::DeviceKind kind, const std::string& dev_path = "") {
    for (const DeviceNode& node : sim_->Nodes()) {
      if (node.kind == kind && (dev_path.empty() || node.dev_path == dev_path)) {
        int fd = ::open(node.source_path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd >= 0) fds_.push_back(fd);
        return fd;
      }
    }
    return -1;
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
  }
  // A client with device 0xd0 and subdevice 0x5d.
  NvHandle ClientWithGpu() {
    NvHandle client = Client();
    EXPECT_EQ(Alloc(client, client, 0xd0, kNv01Device0), kNvOk);
    EXPECT_EQ(Alloc(client, 0xd0, 0x5d, kNv20Subdevice0), kNvOk);
    return client;
  }
  NvV32 Alloc(NvHandle client, NvHandle parent, NvHandle handle, NvV32 cls, void* with = nullptr) {
    std::uint64_t params[8] = {};
    NVOS21_PARAMETERS p{client, parent, handle, cls, reinterpret_cast<std::uintptr_t>(with ? with : params), 0, 0};
    EXPECT_EQ(Call(kEscRmAlloc, &p, sizeof p), 0);
    return p.status;
  }
  // A channel group bound to `engine` as `group`, with a channel `group` + 1.
  NvV32 EngineChannel(NvHandle client, NvHandle group, NvU32 engine) {
    NV_CHANNEL_GROUP_ALLOCATION_PARAMETERS group_params{};
    group_params.engineType = engine;
    if (NvV32 s = Alloc(client, 0xd0, group, kKeplerChannelGroupA, &group_params); s != kNvOk) return s;
    NV_CHANNEL_ALLOC_PARAMS channel{};
    return Alloc(client, group, group + 1, kHopperChannelGpfifoA, &channel);
  }
  NvHandle Client() {
    NVOS21_PARAMETERS p{0, 0, 0, kNv01RootClient, 0, 0, 0};
    EXPECT_EQ(Call(kEscRmAlloc, &p, sizeof p), 0);
    EXPECT_EQ(p.status, kNvOk);
    return p.hObjectNew;
  }
  NvV32 Control(NvHandle client, NvHandle object, NvV32 cmd, void* params, NvU32 size) {
    NVOS54_PARAMETERS p{client, object, cmd, 0, reinterpret_cast<std::uintptr_t>(params), size, 0};
    EXPECT_EQ(Call(kEscRmControl, &p, sizeof p), 0);
    return p.status;
  }

  // A channel group's parameters binding it to the graphics engine.
  NV_CHANNEL_GROUP_ALLOCATION_PARAMETERS graphics_group_{0, 0, 0, kNv2080EngineTypeGraphics, 0};
  std::unique_ptr<Backend> sim_;
  std::vector<int> fds_;
  int ctl_ = -1, gpu_ = -1, uvm_ = -1, uvm_tools_ = -1;
  int gpu_count_ = 1;
};

TEST_F(SimTest, NodesAreFilesItRecognises) {
  int gpus = 0;
  for (const DeviceNode& node : sim_->Nodes()) {
    struct stat st;
    ASSERT_EQ(::stat(node.source_path.c_str(), &st), 0) << node.source_path;
    EXPECT_EQ(sim_->Classify(st), node.kind) << node.dev_path;
    if (node.kind == abi::DeviceKind::kGpu || node.kind == abi::DeviceKind::kCtl) {
      EXPECT_GE(st.st_size, 1 << 30) << "mappable: " << node.dev_path;
      EXPECT_LT(st.st_blocks, 64) << "sparse: " << node.dev_path;
    }
    gpus += node.kind == abi::DeviceKind::kGpu;
  }
  EXPECT_EQ(gpus, 1);
  struct stat other;
  ASSERT_EQ(::stat("/dev/null", &other), 0);
  EXPECT_EQ(sim_->Classify(other), abi::DeviceKind::kNotNvidia);
}

TEST(SimBackend, NodeDirAndGpuCount) {
  char tmpl[] = "/tmp/nvgate-sim-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  {
    auto sim = MakeSimBackend({.driver_version = "580.142", .gpu_count = 2, .node_dir = dir, .call_log = ""})
                   .value();
    EXPECT_EQ(sim->DriverVersion().value(), "580.142");
    std::set<std::string> names;
    for (const DeviceNode& node : sim->Nodes()) names.insert(node.dev_path);
    EXPECT_EQ(names, (std::set<std::string>{"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia-uvm",
                                            "/dev/nvidia-uvm-tools"}));
  }
  EXPECT_EQ(::access((dir + "/nvidia1").c_str(), F_OK), 0) << "a given directory is left in place";
  std::filesystem::remove_all(dir);
  SimOptions no_gpu;
  no_gpu.gpu_count = 0;
  EXPECT_FALSE(MakeSimBackend(no_gpu));
}

TEST(SimBackend, CallLogNamesEveryExecutedCallWithItsClassOrCommand) {
  char tmpl[] = "/tmp/nvgate-sim-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  {
    SimOptions options;
    options.node_dir = dir;
    options.call_log = dir + "/calls.log";
    auto sim = MakeSimBackend(options).value();
    int ctl = ::open((dir + "/nvidiactl").c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(ctl, 0);
    NVOS21_PARAMETERS root{0, 0, 0, kNv01RootClient, 0, 0, 0};
    EXPECT_EQ(sim->Ioctl(ctl, abi::DeviceKind::kCtl, _IOWR('F', kEscRmAlloc, NVOS21_PARAMETERS), &root, 0), 0);
    NVOS54_PARAMETERS control{root.hObjectNew, root.hObjectNew, kNv0000CtrlCmdGpuGetAttachedIds, 0, 0, 0, 0};
    EXPECT_EQ(sim->Ioctl(ctl, abi::DeviceKind::kCtl, _IOWR('F', kEscRmControl, NVOS54_PARAMETERS), &control, 0), 0);
    ::close(ctl);
  }
  std::ifstream log(dir + "/calls.log");
  std::string alloc, control, extra;
  ASSERT_TRUE(std::getline(log, alloc));
  ASSERT_TRUE(std::getline(log, control));
  EXPECT_FALSE(std::getline(log, extra));
  EXPECT_NE(alloc.find("nvidiactl 0xc020462b rc=0 alloc class=0x41 client=0x0 status=0x0"), std::string::npos) << alloc;
  EXPECT_NE(control.find("control cmd=0x201 client="), std::string::npos) << control;
  EXPECT_NE(control.find(" params=null params_size=0x0 status="), std::string::npos) << control;
  EXPECT_NE(control.find(" caller_pid=" + std::to_string(::getpid())), std::string::npos) << control;
  std::filesystem::remove_all(dir);
}

TEST_F(SimTest, AnotherTenantsClientIsNotThisFilesClient) {
  // Another tenant's client exists, on a file of its own: through this file RM
  // refuses it (strict client validation), and follows it only where the
  // driver looks clients up without that check.
  NVOS21_PARAMETERS device{SimDriver::kOtherTenantClient, SimDriver::kOtherTenantClient, 0x1234, kNv01Device0, 0, 0, 0};
  NV0080_ALLOC_PARAMETERS params{};
  device.pAllocParms = reinterpret_cast<std::uintptr_t>(&params);
  device.paramsSize = sizeof params;
  EXPECT_EQ(Call(kEscRmAlloc, &device, sizeof device), 0);
  EXPECT_EQ(device.status, kNvErrInvalidClient);

  NvHandle client = Client();
  params.hClientShare = SimDriver::kOtherTenantClient;
  EXPECT_EQ(Alloc(client, client, 0xd0, kNv01Device0, &params), kNvOk) << "RM follows a share client of anyone's";
  params.hClientShare = 0xbad;
  EXPECT_EQ(Alloc(client, client, 0xd1, kNv01Device0, &params), kNvErrInvalidClient) << "but it must exist";
  params.hClientShare = 0;
  params.hTargetClient = 0xbad;
  EXPECT_EQ(Alloc(client, client, 0xd2, kNv01Device0, &params), kNvErrInvalidClient);
}

TEST_F(SimTest, VersionQueryAndCheck) {
  nv_ioctl_rm_api_version_t v{};
  v.cmd = kRmApiVersionCmdQuery;
  EXPECT_EQ(Call(kEscCheckVersionStr, &v, sizeof v), 0);
  EXPECT_STREQ(v.versionString, "580.159.04");
  EXPECT_EQ(v.reply, kRmApiVersionReplyRecognized);
  EXPECT_EQ(Call(kEscCheckVersionStr, &v, 70), -EINVAL) << "exact size, as the driver";
  EXPECT_EQ(Call(kEscCheckVersionStr, &v, sizeof v, abi::DeviceKind::kGpu), -EINVAL) << "nvidiactl only";

  nv_ioctl_rm_api_version_t relaxed{};
  relaxed.cmd = kRmApiVersionCmdRelaxed;
  std::strcpy(relaxed.versionString, "580.65.06");
  EXPECT_EQ(Call(kEscCheckVersionStr, &relaxed, sizeof relaxed), 0) << "relaxed: the branch must match";
  std::strcpy(relaxed.versionString, "575.1.1");
  EXPECT_EQ(Call(kEscCheckVersionStr, &relaxed, sizeof relaxed), -EINVAL);
}

TEST_F(SimTest, VersionMismatchTellsTheDriversVersion) {
  nv_ioctl_rm_api_version_t check{};
  std::strcpy(check.versionString, "535.1.1");
  EXPECT_EQ(Call(kEscCheckVersionStr, &check, sizeof check), -EINVAL);
  EXPECT_EQ(check.reply, kRmApiVersionReplyRecognized) << "the driver recognised the request";
  EXPECT_STREQ(check.versionString, "580.159.04") << "the driver tells its own version";
  nv_ioctl_rm_api_version_t same{};
  std::strcpy(same.versionString, "580.159.04");
  EXPECT_EQ(Call(kEscCheckVersionStr, &same, sizeof same), 0);
}

TEST_F(SimTest, CardInfoNeedsRoomForEveryGpu) {
  nv_ioctl_card_info_t cards[2] = {};
  EXPECT_EQ(Call(kEscCardInfo, cards, sizeof cards), 0);
  EXPECT_EQ(cards[0].valid, 1);
  EXPECT_EQ(cards[0].pci_info.vendor_id, 0x10de);
  EXPECT_EQ(cards[0].pci_info.device_id, 0x2330);
  EXPECT_EQ(cards[0].gpu_id, 0x100u);
  EXPECT_EQ(cards[0].minor_number, 0u);
  EXPECT_EQ(cards[1].valid, 0);
  EXPECT_EQ(Call(kEscCardInfo, cards, 10), -EINVAL) << "no room for one card";
  EXPECT_EQ(Call(kEscCardInfo, cards, sizeof cards, abi::DeviceKind::kGpu), -EINVAL);
}

TEST_F(SimTest, FileSetupEscapes) {
  NvU32 gpus[2] = {0x100, 0x777};
  EXPECT_EQ(Call(kEscAttachGpusToFd, gpus, sizeof gpus), -EINVAL) << "no such GPU (and nothing stays attached)";
  EXPECT_EQ(Call(kEscAttachGpusToFd, gpus, 6), -EINVAL);
  gpus[1] = 0;
  EXPECT_EQ(Call(kEscAttachGpusToFd, gpus, sizeof gpus), 0);

  EXPECT_EQ(Call(kEscAttachGpusToFd, gpus, 4), -EINVAL) << "once per file";
  int other_ctl = Open(abi::DeviceKind::kCtl);
  gpus[0] = 0x100;
  EXPECT_EQ(CallOn(other_ctl, abi::DeviceKind::kCtl, kEscAttachGpusToFd, gpus, 4), 0) << "another file may";

  int gpu = Open(abi::DeviceKind::kGpu);
  nv_ioctl_register_fd_t reg{Open(abi::DeviceKind::kGpu)};
  EXPECT_EQ(CallOn(gpu, abi::DeviceKind::kGpu, kEscRegisterFd, &reg, sizeof reg), -EINVAL) << "must name a control file";
  reg.ctl_fd = ctl_;
  EXPECT_EQ(CallOn(gpu, abi::DeviceKind::kGpu, kEscRegisterFd, &reg, sizeof reg), 0);
  EXPECT_EQ(CallOn(gpu, abi::DeviceKind::kGpu, kEscRegisterFd, &reg, sizeof reg), -EINVAL) << "links once";
  reg.ctl_fd = other_ctl;
  EXPECT_EQ(CallOn(other_ctl, abi::DeviceKind::kCtl, kEscRegisterFd, &reg, sizeof reg), -EINVAL) << "not to itself";
  int linked_ctl = Open(abi::DeviceKind::kCtl);
  reg.ctl_fd = other_ctl;
  EXPECT_EQ(CallOn(linked_ctl, abi::DeviceKind::kCtl, kEscRegisterFd, &reg, sizeof reg), 0);
  reg.ctl_fd = linked_ctl;
  EXPECT_EQ(CallOn(Open(abi::DeviceKind::kGpu), abi::DeviceKind::kGpu, kEscRegisterFd, &reg, sizeof reg), -EINVAL)
      << "not to a file that is itself linked";

  nv_ioctl_sys_params_t sys{1 << 27};
  EXPECT_EQ(Call(kEscSysParams, &sys, sizeof sys), 0);
  EXPECT_EQ(Call(kEscSysParams, &sys, sizeof sys), 0) << "the same again";
  sys.memblock_size = 1 << 28;
  EXPECT_EQ(Call(kEscSysParams, &sys, sizeof sys), -EBUSY) << "set once";

  nv_ioctl_wait_open_complete_t wait{-1, 7};
  EXPECT_EQ(Call(kEscWaitOpenComplete, &wait, sizeof wait, abi::DeviceKind::kGpu), 0);
  EXPECT_EQ(wait.rc, 0);
  EXPECT_EQ(wait.adapterStatus, 0u);
}

TEST_F(SimTest, ObjectTreeWithTheDriversStatusCodes) {
  NvHandle client = ClientWithGpu();
  EXPECT_EQ(Alloc(client, 0xd0, 0x200, kKeplerChannelGroupA, &graphics_group_), kNvOk);
  EXPECT_EQ(Alloc(client, 0x200, 0x201, kHopperChannelGpfifoA), kNvOk);
  EXPECT_EQ(Alloc(client, 0x201, 0x100, kHopperComputeA), kNvOk);
  EXPECT_EQ(Alloc(client, 0x200, 0x202, kFermiContextShareA), kNvOk);
  EXPECT_EQ(Alloc(client, 0xd0, 0x203, kFermiContextShareA), kNvErrInvalidObjectParent)
      << "a context share needs a channel group";
  EXPECT_EQ(Alloc(client, 0xd0, 0x204, kFermiVaspaceA), kNvOk);
  EXPECT_EQ(Alloc(client, 0x5d, 0x205, kHopperUsermodeA), kNvOk);
  EXPECT_EQ(Alloc(client, 0xd0, 0xd0, kNv20Subdevice0), kNvErrInsertDuplicateName);
  EXPECT_EQ(Alloc(client, 0x777, 0x101, kHopperComputeA), kNvErrInvalidObjectParent) << "no such parent";
  EXPECT_EQ(Alloc(client, client, 0x102, kNv20Subdevice0), kNvErrInvalidObjectParent) << "needs a device";
  EXPECT_EQ(Alloc(client, 0x5d, 0x103, 0x1234), kNvErrInvalidClass);
  EXPECT_EQ(Alloc(0xbad, 0xbad, 0x104, kNv01Device0), kNvErrInvalidClient);

  NVOS21_PARAMETERS no_params{client, client, 0xd1, kNv01Device0, 0, 0, 0};
  EXPECT_EQ(Call(kEscRmAlloc, &no_params, sizeof no_params), 0);
  EXPECT_EQ(no_params.status, kNvErrInvalidArgument) << "a device needs its parameters";
  NV0080_ALLOC_PARAMETERS second_gpu{};
  second_gpu.deviceId = 1;
  NVOS21_PARAMETERS bad_id{client, client, 0xd1, kNv01Device0, reinterpret_cast<std::uintptr_t>(&second_gpu),
                           sizeof second_gpu, 0};
  EXPECT_EQ(Call(kEscRmAlloc, &bad_id, sizeof bad_id), 0);
  EXPECT_EQ(bad_id.status, kNvErrInvalidClass) << "one simulated GPU: no such device instance";
  EXPECT_EQ(Call(kEscRmAlloc, &bad_id, sizeof bad_id, abi::DeviceKind::kGpu), -EINVAL) << "nvidiactl only";
}

// The engine classes' parents in the driver's resource list
// (src/nvidia/src/kernel/rmapi/resource_list.h): a channel, nothing else.
TEST_F(SimTest, EngineObjectsLiveOnAChannel) {
  NvHandle client = ClientWithGpu();
  NV_BSP_ALLOCATION_PARAMETERS video{sizeof(NV_BSP_ALLOCATION_PARAMETERS), 0, 0};
  for (NvV32 cls : {kHopperComputeA, kHopperA, kHopperDmaCopyA, kNvb8b0VideoDecoder, kNvb8d1VideoNvjpg,
                    kNvb8faVideoOfa}) {
    EXPECT_EQ(Alloc(client, 0xd0, 0x100, cls, &video), kNvErrInvalidObjectParent) << std::hex << cls;
    EXPECT_EQ(Alloc(client, 0x5d, 0x100, cls, &video), kNvErrInvalidObjectParent) << std::hex << cls;
  }
  EXPECT_EQ(EngineChannel(client, 0x200, kNv2080EngineTypeGraphics), kNvOk);
  EXPECT_EQ(Alloc(client, 0x200, 0x101, kHopperComputeA), kNvErrInvalidObjectParent) << "a group is no channel";
  EXPECT_EQ(Alloc(client, 0x201, 0x102, kHopperComputeA), kNvOk);
}

// kernel_channel_group_api.c:161-170 and kernel_channel.c:353-394, 698-746:
// what 580.159.04 answered nvprobe's zeroed channel group and channel.
TEST_F(SimTest, ChannelsAreBoundToAnEngine) {
  NvHandle client = ClientWithGpu();
  NV_CHANNEL_GROUP_ALLOCATION_PARAMETERS group{};
  EXPECT_EQ(Alloc(client, 0xd0, 0x200, kKeplerChannelGroupA, &group), kNvErrInvalidArgument) << "no engine";
  group.engineType = kNv2080EngineTypeLast;
  EXPECT_EQ(Alloc(client, 0xd0, 0x200, kKeplerChannelGroupA, &group), kNvErrInvalidArgument) << "no such type";
  NV_CHANNEL_ALLOC_PARAMS channel{};
  EXPECT_EQ(Alloc(client, 0xd0, 0x201, kHopperChannelGpfifoA, &channel), kNvErrInvalidArgument)
      << "under the device a channel makes its own group, with its own engineType";
  channel.engineType = kNv2080EngineTypeGraphics;
  EXPECT_EQ(Alloc(client, 0xd0, 0x201, kHopperChannelGpfifoA, &channel), kNvOk);

  group.engineType = kNv2080EngineTypeGraphics;
  EXPECT_EQ(Alloc(client, 0xd0, 0x202, kKeplerChannelGroupA, &group), kNvOk);
  channel.engineType = kNv2080EngineTypeBsp;
  EXPECT_EQ(Alloc(client, 0x202, 0x203, kHopperChannelGpfifoA, &channel), kNvErrInvalidArgument)
      << "not the group's engine";
  channel.engineType = 0;
  EXPECT_EQ(Alloc(client, 0x202, 0x203, kHopperChannelGpfifoA, &channel), kNvOk) << "the group's engine";
}

// kernel_nvdec_engdesc.c:68-77 (and NVJPG's, OFA's) with
// channel_descendant.c:159-201; what 580.159.04 answered a video object with
// zeroed parameters (size 0), and a decoder on an engine the GPU lacks.
TEST_F(SimTest, VideoObjectsNameTheirEngineInTheirParameters) {
  NvHandle client = ClientWithGpu();
  const std::pair<NvV32, NvU32> classes[] = {{kNvb8b0VideoDecoder, kNv2080EngineTypeBsp},
                                             {kNvb8d1VideoNvjpg, kNv2080EngineTypeNvjpg},
                                             {kNvb8faVideoOfa, kNv2080EngineTypeOfa}};
  NvHandle group = 0x200;
  for (auto [cls, engine] : classes) {
    ASSERT_EQ(EngineChannel(client, group, engine), kNvOk);
    NV_BSP_ALLOCATION_PARAMETERS params{};
    EXPECT_EQ(Alloc(client, group + 1, 0x100, cls, &params), kNvErrInvalidClass) << "size 0";
    params = {sizeof(NV_BSP_ALLOCATION_PARAMETERS), 0, 1};
    EXPECT_EQ(Alloc(client, group + 1, 0x100, cls, &params), kNvErrInvalidClass) << "no second instance";
    params.engineInstance = 0;
    EXPECT_EQ(Alloc(client, group + 1, group + 2, cls, &params), kNvOk) << std::hex << cls;
    group += 0x10;
  }
}

// channel_descendant.c:242-251, kernel_fifo_gm107.c:409-417: the first engine
// object puts a channel on its engine's runlist. 580.159.04 took a compute
// object on a fresh NVDEC channel, and refused one on an NVJPG channel after a
// JPEG object with NV_ERR_INVALID_STATE.
TEST_F(SimTest, AChannelRunsTheEngineOfItsFirstObject) {
  NvHandle client = ClientWithGpu();
  NV_BSP_ALLOCATION_PARAMETERS video{sizeof(NV_BSP_ALLOCATION_PARAMETERS), 0, 0};
  ASSERT_EQ(EngineChannel(client, 0x200, kNv2080EngineTypeNvjpg), kNvOk);
  EXPECT_EQ(Alloc(client, 0x201, 0x100, kNvb8d1VideoNvjpg, &video), kNvOk);
  EXPECT_EQ(Alloc(client, 0x201, 0x101, kHopperComputeA), kNvErrInvalidState);
  ASSERT_EQ(EngineChannel(client, 0x210, kNv2080EngineTypeBsp), kNvOk);
  EXPECT_EQ(Alloc(client, 0x211, 0x102, kHopperComputeA), kNvOk);
  EXPECT_EQ(Alloc(client, 0x211, 0x103, kNvb8b0VideoDecoder, &video), kNvErrInvalidState);
  ASSERT_EQ(EngineChannel(client, 0x220, kNv2080EngineTypeGraphics), kNvOk);
  EXPECT_EQ(Alloc(client, 0x221, 0x104, kHopperComputeA), kNvOk);
  EXPECT_EQ(Alloc(client, 0x221, 0x105, kHopperA), kNvOk) << "the same engine";
  EXPECT_EQ(Alloc(client, 0x221, 0x106, kHopperDmaCopyA), kNvOk) << "a graphics channel's copy engine";
}

TEST_F(SimTest, ClientsGetHandlesAndAreRootClients) {
  NVOS21_PARAMETERS p{0, 0, 0, kNv01Root, 0, 0, 0xff};
  EXPECT_EQ(Call(kEscRmAlloc, &p, sizeof p), 0);
  EXPECT_EQ(p.status, kNvOk);
  EXPECT_NE(p.hObjectNew, 0u) << "a generated handle is written back";
  EXPECT_EQ(p.hClass, kNv01RootClient) << "user clients are forced to NV01_ROOT_CLIENT";
  NVOS21_PARAMETERS again{0, 0, p.hObjectNew, kNv01RootClient, 0, 0, 0};
  EXPECT_EQ(Call(kEscRmAlloc, &again, sizeof again), 0);
  EXPECT_EQ(again.status, kNvErrInsertDuplicateName);
  EXPECT_EQ(Call(kEscRmAlloc, &again, sizeof again, abi::DeviceKind::kGpu), -EINVAL);
}

TEST_F(SimTest, LongAllocForm) {
  NvHandle client = Client();
  NV0080_ALLOC_PARAMETERS device{};
  NVOS64_PARAMETERS p{client, client, 0xd0, kNv01Device0, reinterpret_cast<std::uintptr_t>(&device), 0, sizeof device,
                      0, 0xff};
  EXPECT_EQ(Call(kEscRmAlloc, &p, sizeof p), 0);
  EXPECT_EQ(p.status, kNvOk);
  p.hObjectNew = 0x777;
  p.hClass = 0x1234;
  EXPECT_EQ(Call(kEscRmAlloc, &p, sizeof p), 0);
  EXPECT_EQ(p.status, kNvErrInvalidClass) << "the status is where NVOS64 has it";
  EXPECT_EQ(Call(kEscRmAlloc, &p, 40), -EINVAL);
}

TEST_F(SimTest, FreeingAClientFreesItsObjects) {
  NvHandle client = ClientWithGpu();
  NVOS00_PARAMETERS dev{client, client, 0xd0, 0xff};
  EXPECT_EQ(Call(kEscRmFree, &dev, sizeof dev), 0);
  EXPECT_EQ(dev.status, kNvOk);
  EXPECT_EQ(Alloc(client, 0x5d, 0x100, kHopperComputeA), kNvErrInvalidObjectParent)
      << "the subdevice went with its device";
  EXPECT_EQ(Call(kEscRmFree, &dev, sizeof dev), 0);
  EXPECT_EQ(dev.status, kNvErrInvalidObjectHandle) << "already freed";
  ASSERT_EQ(Alloc(client, client, 0xd0, kNv01Device0), kNvOk);
  NVOS00_PARAMETERS all{client, 0, client, 0xff};
  EXPECT_EQ(Call(kEscRmFree, &all, sizeof all), 0);
  EXPECT_EQ(all.status, kNvOk);
  EXPECT_EQ(Alloc(client, 0xd0, 0x5e, kNv20Subdevice0), kNvErrInvalidClient);
  EXPECT_EQ(Call(kEscRmFree, &all, sizeof all), 0);
  EXPECT_EQ(all.status, kNvErrInvalidClient);
}

TEST_F(SimTest, Controls) {
  NvHandle client = ClientWithGpu();
  NV0000_CTRL_GPU_GET_ATTACHED_IDS_PARAMS ids{};
  EXPECT_EQ(Control(client, client, kNv0000CtrlCmdGpuGetAttachedIds, &ids, sizeof ids), kNvOk);
  EXPECT_EQ(ids.gpuIds[0], 0x100u);
  EXPECT_EQ(ids.gpuIds[1], kInvalidGpuId);
  EXPECT_EQ(Control(client, client, kNv0000CtrlCmdGpuGetAttachedIds, &ids, 64), kNvErrInvalidArgument)
      << "paramsSize must be the struct's";
  NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS probed{};
  EXPECT_EQ(Control(client, client, kNv0000CtrlCmdGpuGetProbedIds, &probed, sizeof probed), kNvOk);
  EXPECT_EQ(probed.gpuIds[0], 0x100u);
  EXPECT_EQ(probed.excludedGpuIds[0], kInvalidGpuId);
  NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS id_info{};
  id_info.gpuId = 0x100;
  EXPECT_EQ(Control(client, client, kNv0000CtrlCmdGpuGetIdInfoV2, &id_info, sizeof id_info), kNvOk);
  EXPECT_EQ(id_info.deviceInstance, 0u);

  NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS classes{};
  EXPECT_EQ(Control(client, 0xd0, kNv0080CtrlCmdGpuGetClasslistV2, &classes, sizeof classes), kNvOk);
  std::set<NvU32> listed(classes.classList, classes.classList + classes.numClasses);
  for (NvU32 c : {kHopperChannelGpfifoA, kHopperComputeA, kHopperA, kHopperDmaCopyA, kNvb8b0VideoDecoder,
                  kNvb8d1VideoNvjpg, kNvb8faVideoOfa, kFermiVaspaceA, kKeplerChannelGroupA}) {
    EXPECT_TRUE(listed.contains(c)) << std::hex << c;
  }

  NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS name{};
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuGetNameString, &name, sizeof name), kNvOk);
  EXPECT_STREQ(reinterpret_cast<char*>(name.gpuNameString), "NVIDIA H100 80GB HBM3 (nvgate sim)");

  NV2080_CTRL_GPU_INFO gr_list[3] = {{kNv0080CtrlGrInfoIndexSmVersion, 0}, {kNv0080CtrlGrInfoIndexLitterNumGpcs, 0},
                                     {0, 7}};
  NV2080_CTRL_GR_GET_INFO_PARAMS gr{};
  gr.grInfoListSize = 3;
  gr.grInfoList = reinterpret_cast<std::uintptr_t>(gr_list);
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGrGetInfo, &gr, sizeof gr), kNvOk);
  EXPECT_EQ(gr_list[0].data, 0x900u) << "the embedded list is written: sm_90";
  EXPECT_EQ(gr_list[1].data, 8u);
  gr_list[2].index = kNv0080CtrlGrInfoIndexMax;
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGrGetInfo, &gr, sizeof gr), kNvErrInvalidArgument);

  NV2080_CTRL_FB_GET_INFO_V2_PARAMS fb{};
  fb.fbInfoListSize = 2;
  fb.fbInfoList[0].index = kNv2080CtrlFbInfoIndexTotalRamSize;
  fb.fbInfoList[1].index = kNv2080CtrlFbInfoIndexHeapFree;
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdFbGetInfoV2, &fb, sizeof fb), kNvOk);
  EXPECT_EQ(fb.fbInfoList[0].data, 80u << 20) << "80 GiB in KiB";
  EXPECT_GT(fb.fbInfoList[1].data, 0u);

  NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS pci{};
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdBusGetPciInfo, &pci, sizeof pci), kNvOk);
  EXPECT_EQ(pci.pciDeviceId, 0x233010deu);

  NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS engines{};
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuGetEnginesV2, &engines, sizeof engines), kNvOk);
  EXPECT_EQ(engines.engineCount, 5u);
  NV2080_CTRL_PERF_GET_CURRENT_PSTATE_PARAMS pstate{};
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdPerfGetCurrentPstate, &pstate, sizeof pstate), kNvOk);
  EXPECT_EQ(pstate.currPstate, 1u);

  NV2080_CTRL_GPU_GET_GID_INFO_PARAMS gid{};
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuGetGidInfo, &gid, sizeof gid), kNvOk);
  EXPECT_STREQ(reinterpret_cast<char*>(gid.data), "GPU-6e766761-7465-2d73-696d-000000000000");
  gid.flags = kGidFlagsFormatBinary;
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuGetGidInfo, &gid, sizeof gid), kNvOk);
  EXPECT_EQ(gid.length, 16u);

  EXPECT_EQ(Control(client, 0x5d, 0x2080ffff, &name, sizeof name), kNvErrNotSupported);
  EXPECT_EQ(Control(client, 0x999, kNv2080CtrlCmdGpuGetNameString, &name, sizeof name), kNvErrInvalidObjectHandle);
  EXPECT_EQ(Control(0xbad, 0xbad, kNv0000CtrlCmdGpuGetAttachedIds, &ids, sizeof ids), kNvErrInvalidClient);
  NVOS54_PARAMETERS on_gpu{client, client, kNv0000CtrlCmdGpuGetAttachedIds, 0, reinterpret_cast<std::uintptr_t>(&ids),
                           sizeof ids, 0};
  EXPECT_EQ(Call(kEscRmControl, &on_gpu, sizeof on_gpu, abi::DeviceKind::kGpu), -EINVAL) << "nvidiactl only";
}

TEST_F(SimTest, ControlsBelongToTheirClass) {
  NvHandle client = ClientWithGpu();
  NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS name{};
  EXPECT_EQ(Control(client, 0xd0, kNv2080CtrlCmdGpuGetNameString, &name, sizeof name), kNvErrNotSupported)
      << "a subdevice command on the device";
  NV0080_CTRL_GPU_GET_NUM_SUBDEVICES_PARAMS n{};
  EXPECT_EQ(Control(client, 0xd0, kNv0080CtrlCmdGpuGetNumSubdevices, &n, sizeof n), kNvOk);
  EXPECT_EQ(n.numSubDevices, 1u);
  NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS build{};
  EXPECT_EQ(Control(client, client, kNv0000CtrlCmdSystemGetBuildVersionV2, &build, sizeof build), kNvOk);
  EXPECT_STREQ(build.driverVersionBuffer, "580.159.04");
  NV2080_CTRL_GPU_GET_INFO_V2_PARAMS info{};
  info.gpuInfoListSize = 71;
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuGetInfoV2, &info, sizeof info), kNvErrInvalidArgument);

  ASSERT_EQ(Alloc(client, 0xd0, 0x200, kKeplerChannelGroupA, &graphics_group_), kNvOk);
  ASSERT_EQ(Alloc(client, 0x200, 0x201, kHopperChannelGpfifoA), kNvOk);
  NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS token{};
  EXPECT_EQ(Control(client, 0x201, kNvc36fCtrlCmdGpfifoGetWorkSubmitToken, &token, sizeof token), kNvOk)
      << "a Hopper channel answers the C36F commands";
  EXPECT_EQ(token.workSubmitToken, 0x201u);
  NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS schedule{1, 0, 0};
  EXPECT_EQ(Control(client, 0x200, kNva06cCtrlCmdGpfifoSchedule, &schedule, sizeof schedule), kNvOk);
  EXPECT_EQ(Control(client, 0x200, kNva06cCtrlCmdGpfifoSchedule, &schedule, 4), kNvErrInvalidArgument);
  EXPECT_EQ(Control(client, 0x201, kNva06cCtrlCmdGpfifoSchedule, &schedule, sizeof schedule), kNvErrNotSupported)
      << "a channel-group command on the channel";
}

TEST_F(SimTest, UvmNeedsInitialisation) {
  NvHandle client = ClientWithGpu();
  std::vector<std::uint8_t> uuid = {0x6e, 0x76, 0x67, 0x61, 0x74, 0x65, 0x2d, 0x73, 0x69, 0x6d, 0, 0, 0, 0, 0, 0};
  UVM_REGISTER_GPU_PARAMS gpu{};
  std::memcpy(gpu.gpu_uuid, uuid.data(), 16);
  gpu.rmCtrlFd = Open(abi::DeviceKind::kCtl);
  gpu.hClient = client;
  EXPECT_EQ(Uvm(kUvmRegisterGpu, &gpu), 0);
  EXPECT_EQ(gpu.rmStatus, kNvErrIllegalAction) << "before UVM_INITIALIZE";

  UVM_INITIALIZE_PARAMS init{kUvmInitFlagsMultiProcessSharingMode, 0xff};
  EXPECT_EQ(Uvm(kUvmInitialize, &init), 0);
  EXPECT_EQ(init.rmStatus, kNvOk);
  EXPECT_EQ(Uvm(kUvmInitialize, &init), 0);
  EXPECT_EQ(init.rmStatus, kNvOk) << "the same flags again";
  UVM_INITIALIZE_PARAMS other{0, 0};
  EXPECT_EQ(Uvm(kUvmInitialize, &other), 0);
  EXPECT_EQ(other.rmStatus, kNvErrInvalidArgument) << "conflicting flags";

  EXPECT_EQ(Uvm(kUvmRegisterGpu, &gpu), 0);
  EXPECT_EQ(gpu.rmStatus, kNvOk);
  EXPECT_EQ(gpu.numaNodeId, -1);
  UVM_REGISTER_GPU_PARAMS stranger = gpu;
  stranger.gpu_uuid[15] = 9;
  EXPECT_EQ(Uvm(kUvmRegisterGpu, &stranger), 0);
  EXPECT_EQ(stranger.rmStatus, kNvErrGpuUuidNotFound);
  // As CUDA registers a GPU on a real driver (H200, 580.159.04): without MIG,
  // RM reads neither the control file nor the client (nv_gpu_ops.c:7697).
  UVM_REGISTER_GPU_PARAMS as_cuda = gpu;
  as_cuda.rmCtrlFd = -1;
  as_cuda.hClient = 0;
  EXPECT_EQ(Uvm(kUvmRegisterGpu, &as_cuda), 0);
  EXPECT_EQ(as_cuda.rmStatus, kNvOk) << "no control file and no client, as CUDA passes them";

  ASSERT_EQ(Alloc(client, 0xd0, 0x300, kFermiVaspaceA), kNvOk);
  UVM_REGISTER_GPU_VASPACE_PARAMS vaspace{};
  std::memcpy(vaspace.gpuUuid, uuid.data(), 16);
  vaspace.rmCtrlFd = gpu.rmCtrlFd;
  vaspace.hClient = client;
  vaspace.hVaSpace = 0x300;
  EXPECT_EQ(Uvm(kUvmRegisterGpuVaspace, &vaspace), 0);
  EXPECT_EQ(vaspace.rmStatus, kNvOk);

  UVM_PAGEABLE_MEM_ACCESS_PARAMS pageable{1, 0xff};
  EXPECT_EQ(Uvm(kUvmPageableMemAccess, &pageable), 0);
  EXPECT_EQ(pageable.pageableMemAccess, 0);
  EXPECT_EQ(pageable.rmStatus, kNvOk);
  UVM_CREATE_RANGE_GROUP_PARAMS group{};
  EXPECT_EQ(Uvm(kUvmCreateRangeGroup, &group), 0);
  EXPECT_NE(group.rangeGroupId, 0u);
  auto map = std::make_unique<UVM_MAP_EXTERNAL_ALLOCATION_PARAMS>();
  map->rmStatus = 0xff;
  EXPECT_EQ(Uvm(kUvmMapExternalAllocation, map.get()), 0);
  EXPECT_EQ(map->rmStatus, kNvOk);

  UVM_UNREGISTER_GPU_PARAMS unregister{};
  std::memcpy(unregister.gpu_uuid, uuid.data(), 16);
  EXPECT_EQ(Uvm(kUvmUnregisterGpu, &unregister), 0);
  EXPECT_EQ(unregister.rmStatus, kNvOk);
  EXPECT_EQ(Uvm(kUvmUnregisterGpu, &unregister), 0);
  EXPECT_EQ(unregister.rmStatus, kNvErrInvalidDevice) << "not registered any more";
  EXPECT_EQ(Uvm(kUvmRegisterGpuVaspace, &vaspace), 0);
  EXPECT_EQ(vaspace.rmStatus, kNvErrInvalidDevice);

  EXPECT_EQ(Uvm(kUvmDeinitialize, nullptr), 0);
  EXPECT_EQ(Uvm(0x7ff, &init), -ENOSYS) << "unrouted";
}

// RmAllocOsDescriptor (escape.c:134-270 at 580.142): flags, alignment and
// limit first; then every page of the range must be mapped, writable unless
// the pin is read-only, in the calling process (os-mlock.c:224-304): called
// through Ioctl, the test's own.
TEST_F(SimTest, OsDescriptorPinsPagesOfTheCallingProcess) {
  NvHandle client = ClientWithGpu();
  constexpr std::size_t kPage = 4096;
  auto* pages = static_cast<std::uint8_t*>(::mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE,
                                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(pages, MAP_FAILED);
  ::munmap(pages + 2 * kPage, kPage);  // a hole after two mapped pages
  constexpr NvU32 kFlags = (kNvos02FlagsCoherencyCached << kNvos02FlagsCoherencyShift) | kNvos02FlagsMappingNoMap;
  nv_ioctl_nvos02_parameters_with_fd pin{};
  pin.params = {client, 0xd0, 0x310, kNv01MemorySystemOsDescriptor, kFlags, 0, 2 * kPage - 1, 0xff};
  pin.params.pMemory = reinterpret_cast<std::uintptr_t>(pages);
  pin.fd = -1;
  auto status = [&](auto change) {
    nv_ioctl_nvos02_parameters_with_fd p = pin;
    change(p.params);
    EXPECT_EQ(Call(kEscRmAllocMemory, &p, sizeof p, abi::DeviceKind::kGpu), 0);
    return p.params.status;
  };
  EXPECT_EQ(status([](NVOS02_PARAMETERS& p) { p.flags = kNvos02FlagsMappingNoMap | (2 << kNvos02FlagsCoherencyShift); }),
            kNvErrInvalidFlags) << "write-combined";
  EXPECT_EQ(status([](NVOS02_PARAMETERS& p) { p.flags = kNvos02FlagsCoherencyCached << kNvos02FlagsCoherencyShift; }),
            kNvErrInvalidFlags) << "not NO_MAP";
  EXPECT_EQ(status([](NVOS02_PARAMETERS& p) { p.pMemory += 8; }), kNvErrNotSupported) << "not page-aligned";
  EXPECT_EQ(status([](NVOS02_PARAMETERS& p) { p.limit = ~NvU64{0}; }), kNvErrInvalidLimit);
  EXPECT_EQ(status([](NVOS02_PARAMETERS& p) { p.limit = 3 * kPage - 1; }), kNvErrInvalidAddress) << "into the hole";
  ::mprotect(pages, 2 * kPage, PROT_READ);
  EXPECT_EQ(status([](NVOS02_PARAMETERS&) {}), kNvErrInvalidAddress) << "a writable pin of read-only pages";
  EXPECT_EQ(status([](NVOS02_PARAMETERS& p) { p.flags |= kNvos02FlagsAllocUserReadOnly; }), kNvOk);
  EXPECT_EQ(status([client](NVOS02_PARAMETERS& p) {
    p.flags |= kNvos02FlagsAllocUserReadOnly;
    p.hObjectParent = client;
  }), kNvErrInvalidObjectParent)
      << "a Device is its only parent";
  ::munmap(pages, 2 * kPage);
}

TEST_F(SimTest, SystemMemoryAllocMapAndMmap) {
  NvHandle client = ClientWithGpu();
  nv_ioctl_nvos02_parameters_with_fd mem{};
  mem.params = {client, 0xd0, 0x300, kNv01MemorySystem, 0, 0, (1 << 20) - 1, 0xff};
  mem.fd = ctl_;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem), -EINVAL) << "a GPU file's escape";
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), 0);
  EXPECT_EQ(mem.params.status, kNvOk);
  mem.params.hObjectNew = 0x301;
  mem.params.hClass = kNv01MemoryLocalUser;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), 0);
  EXPECT_EQ(mem.params.status, kNvErrInvalidClass);

  int map_fd = Open(abi::DeviceKind::kCtl);
  nv_ioctl_nvos33_parameters_with_fd map{};
  map.params = {client, 0xd0, 0x300, 0, 4096, 0, 0xff, 0};
  map.fd = map_fd;
  EXPECT_EQ(Call(kEscRmMapMemory, &map, sizeof map), 0);
  EXPECT_EQ(map.params.status, kNvOk);
  EXPECT_NE(map.params.pLinearAddress, 0u);
  // What the workload does next: mmap the file that received the context.
  void* cpu = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  ASSERT_NE(cpu, MAP_FAILED);
  static_cast<volatile char*>(cpu)[100] = 1;
  ::munmap(cpu, 4096);

  nv_ioctl_nvos33_parameters_with_fd too_long = map;
  too_long.params.length = 2 << 20;
  EXPECT_EQ(Call(kEscRmMapMemory, &too_long, sizeof too_long), 0);
  EXPECT_EQ(too_long.params.status, kNvErrInvalidLimit);
  nv_ioctl_nvos33_parameters_with_fd not_ours = map;
  not_ours.fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  fds_.push_back(not_ours.fd);
  EXPECT_EQ(Call(kEscRmMapMemory, &not_ours, sizeof not_ours), 0);
  EXPECT_EQ(not_ours.params.status, kNvErrInvalidArgument) << "the context goes on an NVIDIA file";
  nv_ioctl_nvos33_parameters_with_fd gpu_file = map;
  gpu_file.fd = Open(abi::DeviceKind::kGpu);
  EXPECT_EQ(Call(kEscRmMapMemory, &gpu_file, sizeof gpu_file), 0);
  EXPECT_EQ(gpu_file.params.status, kNvErrInvalidArgument) << "system memory maps through nvidiactl";

  NVOS34_PARAMETERS unmap{client, 0xd0, 0x300, map.params.pLinearAddress, 0xff, 0};
  EXPECT_EQ(Call(kEscRmUnmapMemory, &unmap, sizeof unmap), 0);
  EXPECT_EQ(unmap.status, kNvOk);
  EXPECT_EQ(Call(kEscRmUnmapMemory, &unmap, sizeof unmap), 0);
  EXPECT_EQ(unmap.status, kNvErrObjectNotFound) << "already unmapped";
}

// escape.c:338-358 and nv-usermap.c:45-47: system memory to be mapped at
// once needs an nvidiactl for its mmap context. 580.159.04 answered nvprobe's
// fd -1 so: EINVAL, the status NV_OK, the memory allocated.
TEST_F(SimTest, AllocMemoryMappedAtOnceNeedsAControlFile) {
  NvHandle client = ClientWithGpu();
  nv_ioctl_nvos02_parameters_with_fd mem{};
  mem.params = {client, 0xd0, 0x300, kNv01MemorySystem, 0, 0, (1 << 20) - 1, 0xff};
  mem.fd = -1;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), -EINVAL);
  EXPECT_EQ(mem.params.status, kNvOk);
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), 0);
  EXPECT_EQ(mem.params.status, kNvErrInsertDuplicateName) << "the memory was allocated";
  mem.params.hObjectNew = 0x301;
  mem.fd = gpu_;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), -EINVAL) << "a GPU file";
  mem.params.hObjectNew = 0x302;
  mem.fd = ctl_;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), 0);
  EXPECT_EQ(mem.params.status, kNvOk);
  mem.params.hObjectNew = 0x303;
  mem.params.flags = kNvos02FlagsMappingNoMap;
  mem.fd = -1;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), 0) << "no mapping, no file needed";
  EXPECT_EQ(mem.params.status, kNvOk);
}

TEST_F(SimTest, VideoMemoryFromTheHeap) {
  NvHandle client = ClientWithGpu();
  NVOS32_PARAMETERS heap{};
  heap.hRoot = client;
  heap.hObjectParent = 0xd0;
  heap.function = kNvos32FunctionAllocSize;
  heap.data.AllocSize.size = 3 << 20;
  heap.status = 0xff;
  EXPECT_EQ(Call(kEscRmVidHeapControl, &heap, sizeof heap), 0);
  EXPECT_EQ(heap.status, kNvOk);
  EXPECT_NE(heap.data.AllocSize.hMemory, 0u) << "a generated handle";
  EXPECT_EQ(heap.data.AllocSize.limit, heap.data.AllocSize.offset + heap.data.AllocSize.size - 1);
  EXPECT_LT(heap.free, heap.total);
  EXPECT_EQ(Call(kEscRmVidHeapControl, &heap, 24), -EINVAL);

  nv_ioctl_nvos33_parameters_with_fd map{};
  map.params = {client, 0x5d, heap.data.AllocSize.hMemory, 0, 1 << 20, 0, 0, 0};
  map.fd = Open(abi::DeviceKind::kGpu);
  EXPECT_EQ(Call(kEscRmMapMemory, &map, sizeof map), 0);
  EXPECT_EQ(map.params.status, kNvOk);
}

TEST_F(SimTest, UnknownEscapesAndWrongSizes) {
  std::uint8_t buf[64] = {};
  EXPECT_EQ(Call(0x7f, buf, 8), -EINVAL);
  EXPECT_EQ(Call(kEscRegisterFd, buf, 8), -EINVAL);
  EXPECT_EQ(Call(kEscRmFree, buf, 20), -EINVAL);
  EXPECT_EQ(Call(kEscRmControl, buf, 40), -EINVAL);
  EXPECT_EQ(sim_->Ioctl(uvm_tools_, abi::DeviceKind::kUvmTools, 1, buf, 0), -EINVAL);
  // A file that is none of the sim's nodes, or not the node named: the driver
  // is never called so; the sim says EBADF.
  EXPECT_EQ(sim_->Ioctl(-1, abi::DeviceKind::kCtl, Req(kEscCardInfo, 8), buf, 0), -EBADF);
  EXPECT_EQ(sim_->Ioctl(ctl_, abi::DeviceKind::kModeset, Req(kEscCardInfo, 8), buf, 0), -EBADF);
}

TEST_F(SimTest, EventsSharesAndDuplicates) {
  NvHandle client = ClientWithGpu();
  EXPECT_EQ(Alloc(client, client, 0xe0, kNv01EventOsEvent), kNvOk) << "an OS event may hang off the client";
  std::uint64_t params[8] = {};
  NVOS21_PARAMETERS event{client, 0x5d, 0xe1, kNv01EventOsEvent, reinterpret_cast<std::uintptr_t>(params), 0, 0};
  EXPECT_EQ(Call(kEscRmAlloc, &event, sizeof event, abi::DeviceKind::kGpu), 0) << "events on a GPU file too";
  EXPECT_EQ(event.status, kNvOk);
  nv_ioctl_alloc_os_event_t os_event{client, 0xd0, 5, 0xff};
  EXPECT_EQ(Call(kEscAllocOsEvent, &os_event, sizeof os_event, abi::DeviceKind::kGpu), 0);
  EXPECT_EQ(os_event.Status, kNvOk);

  ASSERT_EQ(Alloc(client, 0xd0, 0x200, kKeplerChannelGroupA, &graphics_group_), kNvOk);
  NvHandle other = Client();
  NVOS55_PARAMETERS dup{other, other, 0x400, client, 0xd0, 0, 0xff};
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvOk);
  EXPECT_EQ(Alloc(other, 0x400, 0x401, kNv20Subdevice0), kNvOk) << "the duplicate is a device";
  dup.hObjectSrc = 0x999;
  dup.hObject = 0x402;
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvErrInvalidObjectHandle);

  NVOS57_PARAMETERS share{client, 0x200, {0, 0, 0, 0}, 0xff};
  EXPECT_EQ(Call(kEscRmShare, &share, sizeof share), 0);
  EXPECT_EQ(share.status, kNvOk);
}

TEST_F(SimTest, ConcurrentCallsKeepTheTreeConsistent) {
  NvHandle client = ClientWithGpu();
  std::vector<std::thread> threads;
  for (NvHandle t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (NvHandle i = 0; i < 200; ++i) {
        NvHandle h = 0x10000 + t * 0x1000 + i;
        EXPECT_EQ(Alloc(client, 0xd0, h, kFermiVaspaceA), kNvOk);
        NVOS00_PARAMETERS f{client, 0xd0, h, 0xff};
        EXPECT_EQ(Call(kEscRmFree, &f, sizeof f), 0);
        EXPECT_EQ(f.status, kNvOk);
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

// ---- who is calling: the driver's rules on its caller ----

TEST_F(SimTest, ClientsBelongToTheFileTheyWereAllocatedThrough) {
  NvHandle client = Client();
  std::uint32_t ids[32] = {};
  NVOS54_PARAMETERS p{client, client, kNv0000CtrlCmdGpuGetAttachedIds, 0, reinterpret_cast<std::uintptr_t>(ids),
                      sizeof ids, 0};
  int other_ctl = Open(abi::DeviceKind::kCtl);
  EXPECT_EQ(CallOn(other_ctl, abi::DeviceKind::kCtl, kEscRmControl, &p, sizeof p), 0);
  EXPECT_EQ(p.status, kNvErrInvalidClient) << "named through another file";
  EXPECT_EQ(Call(kEscRmControl, &p, sizeof p), 0);
  EXPECT_EQ(p.status, kNvOk);

  // A GPU file speaks for the control file it was linked to (SetUp), and only then.
  nv_ioctl_nvos02_parameters_with_fd mem{};
  mem.params = {client, client, 0, kNv01MemorySystem, kNvos02FlagsMappingNoMap, 0, 4095, 0xff};
  ASSERT_EQ(Alloc(client, client, 0xd0, kNv01Device0), kNvOk);
  mem.params.hObjectParent = 0xd0;
  mem.fd = -1;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), 0);
  EXPECT_EQ(mem.params.status, kNvOk);
  int unlinked = Open(abi::DeviceKind::kGpu);
  mem.params.hObjectNew = 0;
  EXPECT_EQ(CallOn(unlinked, abi::DeviceKind::kGpu, kEscRmAllocMemory, &mem, sizeof mem), 0);
  EXPECT_EQ(mem.params.status, kNvErrInvalidClient) << "a GPU file not linked by REGISTER_FD";
}

TEST_F(SimTest, AReleasedFileTakesItsClientsWithIt) {
  int ctl = ::open(sim_->Nodes()[0].source_path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_EQ(sim_->Nodes()[0].kind, abi::DeviceKind::kCtl);
  NVOS21_PARAMETERS root{0, 0, 0, kNv01RootClient, 0, 0, 0};
  ASSERT_EQ(CallOn(ctl, abi::DeviceKind::kCtl, kEscRmAlloc, &root, sizeof root), 0);
  ASSERT_EQ(root.status, kNvOk);
  // A GPU file linked to it keeps the control file, and so its clients, alive.
  int gpu = ::open(sim_->Nodes().back().source_path.c_str(), O_RDWR | O_CLOEXEC);
  nv_ioctl_register_fd_t reg{ctl};
  ASSERT_EQ(CallOn(gpu, abi::DeviceKind::kGpu, kEscRegisterFd, &reg, sizeof reg), 0);
  ::close(ctl);

  NvHandle mine = Client();
  NVOS55_PARAMETERS dup{mine, mine, 0x900, root.hObjectNew, root.hObjectNew, 0, 0xff};
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_NE(dup.status, kNvErrInvalidClient) << "still there while the GPU file holds its control file";
  ::close(gpu);
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvErrInvalidClient) << "freed with its file's last reference";
}

TEST_F(SimTest, AMappingKeepsItsFileOpen) {
  int ctl = Open(abi::DeviceKind::kCtl);
  NVOS21_PARAMETERS root{0, 0, 0, kNv01RootClient, 0, 0, 0};
  ASSERT_EQ(CallOn(ctl, abi::DeviceKind::kCtl, kEscRmAlloc, &root, sizeof root), 0);
  void* cpu = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, ctl, 0);
  ASSERT_NE(cpu, MAP_FAILED);
  fds_.erase(std::find(fds_.begin(), fds_.end(), ctl));
  ::close(ctl);
  NvHandle mine = Client();
  NVOS55_PARAMETERS dup{mine, mine, 0x900, root.hObjectNew, 0x1, 0, 0xff};
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvErrInvalidObjectHandle) << "the client lives on while the mapping holds the file";
  ::munmap(cpu, 4096);
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvErrInvalidClient);
}

TEST_F(SimTest, UvmStateIsPerFile) {
  UVM_INITIALIZE_PARAMS init{0, 0};
  ASSERT_EQ(Uvm(kUvmInitialize, &init), 0);
  ASSERT_EQ(init.rmStatus, kNvOk);
  int other = Open(abi::DeviceKind::kUvm);
  UVM_CREATE_RANGE_GROUP_PARAMS group{};
  EXPECT_EQ(sim_->Ioctl(other, abi::DeviceKind::kUvm, kUvmCreateRangeGroup, &group, 0), 0);
  EXPECT_EQ(group.rmStatus, kNvErrIllegalAction) << "another file of nvidia-uvm is not initialised";
  EXPECT_EQ(Uvm(kUvmCreateRangeGroup, &group), 0);
  EXPECT_EQ(group.rmStatus, kNvOk);
}

TEST_F(SimTest, ComputeModeReservationIsGivenBackOnlyByItsHolder) {
  NvHandle client = ClientWithGpu();
  NvHandle other = Client();
  NvHandle other_device = 0xd9, other_subdevice = 0x5f;
  ASSERT_EQ(Alloc(other, other, other_device, kNv01Device0), kNvOk);
  ASSERT_EQ(Alloc(other, other_device, other_subdevice, kNv20Subdevice0), kNvOk);
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuAcquireComputeModeReservation, nullptr, 0), kNvOk);
  EXPECT_EQ(Control(other, other_subdevice, kNv2080CtrlCmdGpuReleaseComputeModeReservation, nullptr, 0),
            kNvErrStateInUse)
      << "held by another client";
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuReleaseComputeModeReservation, nullptr, 0), kNvOk);
  std::uint32_t junk = 0;
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuAcquireComputeModeReservation, &junk, sizeof junk),
            kNvErrInvalidArgument)
      << "takes no parameters";
}

class TwoGpuSimTest : public SimTest {
 protected:
  TwoGpuSimTest() { gpu_count_ = 2; }
};

TEST_F(TwoGpuSimTest, ADeviceNeedsAnOpenFileOfItsGpu) {
  NvHandle client = Client();
  NV0080_ALLOC_PARAMETERS params{};
  params.deviceId = 0;
  EXPECT_EQ(Alloc(client, client, 0xd0, kNv01Device0, &params), kNvOk) << "this process holds nvidia0";
  params.deviceId = 1;
  EXPECT_EQ(Alloc(client, client, 0xd1, kNv01Device0, &params), kNvErrInsufficientPermissions)
      << "and no file of nvidia1";
  EXPECT_EQ(Alloc(client, client, 0xd1, kNv01Device0, &params), kNvErrInsufficientPermissions)
      << "nothing was left behind by the refusal";
  int gpu1 = Open(abi::DeviceKind::kGpu, "/dev/nvidia1");
  ASSERT_GE(gpu1, 0);
  EXPECT_EQ(Alloc(client, client, 0xd1, kNv01Device0, &params), kNvOk);
}

TEST_F(TwoGpuSimTest, UvmRegisterGpuNeedsAnOpenFileOfItsGpu) {
  NvHandle client = Client();
  UVM_INITIALIZE_PARAMS init{0, 0};
  ASSERT_EQ(Uvm(kUvmInitialize, &init), 0);
  UVM_REGISTER_GPU_PARAMS reg{};
  std::vector<std::uint8_t> uuid = SimDriver::GpuUuid(1);
  std::memcpy(reg.gpu_uuid, uuid.data(), 16);
  reg.rmCtrlFd = ctl_;
  reg.hClient = client;
  EXPECT_EQ(Uvm(kUvmRegisterGpu, &reg), 0);
  EXPECT_EQ(reg.rmStatus, kNvErrInsufficientPermissions) << "no file of nvidia1 here";
  Open(abi::DeviceKind::kGpu, "/dev/nvidia1");
  EXPECT_EQ(Uvm(kUvmRegisterGpu, &reg), 0);
  EXPECT_EQ(reg.rmStatus, kNvOk);
}

// Runs `child` in a forked process: another process calling the same driver
// state (the sim's memory is copied, the files are shared), as a second
// process of one workload would. Returns its exit status.
int InAnotherProcess(const std::function<int()>& child) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(child());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST_F(SimTest, MappingsBelongToTheProcessThatMadeThem) {
  NvHandle client = ClientWithGpu();
  nv_ioctl_nvos02_parameters_with_fd mem{};
  mem.params = {client, 0xd0, 0x300, kNv01MemorySystem, kNvos02FlagsMappingNoMap, 0, 4095, 0xff};
  mem.fd = -1;
  ASSERT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem, abi::DeviceKind::kGpu), 0);
  ASSERT_EQ(mem.params.status, kNvOk);
  nv_ioctl_nvos33_parameters_with_fd map{};
  map.params = {client, 0xd0, 0x300, 0, 4096, 0, 0xff, 0};
  map.fd = ctl_;
  ASSERT_EQ(Call(kEscRmMapMemory, &map, sizeof map), 0);
  ASSERT_EQ(map.params.status, kNvOk);

  EXPECT_EQ(InAnotherProcess([&] {
              nv_ioctl_nvos33_parameters_with_fd again = map;
              if (Call(kEscRmMapMemory, &again, sizeof again) != 0) return 1;
              if (again.params.status != kNvErrInvalidClient) return 2;  // ProcID is the parent's
              NVOS34_PARAMETERS unmap{client, 0xd0, 0x300, map.params.pLinearAddress, 0xff, 0};
              if (Call(kEscRmUnmapMemory, &unmap, sizeof unmap) != 0) return 3;
              if (unmap.status != kNvErrObjectNotFound) return 4;  // not this process's mapping
              NVOS56_PARAMETERS update{client, 0xd0, 0x300, map.params.pLinearAddress, 0, 0xff};
              if (Call(kEscRmUpdateDeviceMappingInfo, &update, sizeof update) != 0) return 5;
              return update.status == kNvErrObjectNotFound ? 0 : 6;
            }),
            0);
  // The mapping is found under its new address from then on.
  constexpr NvP64 kNewAddress = 0x7f0000100000;
  NVOS56_PARAMETERS update{client, 0xd0, 0x300, map.params.pLinearAddress, kNewAddress, 0xff};
  EXPECT_EQ(Call(kEscRmUpdateDeviceMappingInfo, &update, sizeof update), 0);
  EXPECT_EQ(update.status, kNvOk);
  NVOS34_PARAMETERS unmap{client, 0xd0, 0x300, kNewAddress, 0xff, 0};
  EXPECT_EQ(Call(kEscRmUnmapMemory, &unmap, sizeof unmap), 0);
  EXPECT_EQ(unmap.status, kNvOk);
}

TEST_F(SimTest, DupFollowsThePidSharePolicy) {
  NvHandle client = ClientWithGpu();
  ASSERT_EQ(Alloc(client, 0xd0, 0x200, kKeplerChannelGroupA, &graphics_group_), kNvOk);
  ASSERT_EQ(Alloc(client, 0xd0, 0x201, kKeplerChannelGroupA, &graphics_group_), kNvOk);
  NVOS57_PARAMETERS share{client, 0x201, {0, 0xffffffff, kRsShareTypeAll, 0}, 0xff};
  ASSERT_EQ(Call(kEscRmShare, &share, sizeof share), 0);
  ASSERT_EQ(share.status, kNvOk);
  NvHandle same_process = Client();
  NVOS55_PARAMETERS dup{same_process, same_process, 0x400, client, 0x200, 0, 0xff};
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvOk) << "clients of one process share by default";

  EXPECT_EQ(InAnotherProcess([&] {
              NvHandle other = Client();
              NVOS55_PARAMETERS from_other{other, other, 0x400, client, 0x200, 0, 0xff};
              if (Call(kEscRmDupObject, &from_other, sizeof from_other) != 0) return 1;
              if (from_other.status != kNvErrInsufficientPermissions) return 2;
              NVOS55_PARAMETERS shared{other, other, 0x401, client, 0x201, 0, 0xff};
              if (Call(kEscRmDupObject, &shared, sizeof shared) != 0) return 3;
              return shared.status == kNvOk ? 0 : 4;  // shared with everyone
            }),
            0);
}

// Reads the sim's call log line for the root client it allocates.
std::string RootClientLogLine(bool drop_sys_admin) {
  char tmpl[] = "/tmp/nvgate-sim-priv-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return "";
  std::string dir = tmpl;
  int status = InAnotherProcess([&] {
    if (drop_sys_admin) {
      __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
      __user_cap_data_struct data[2] = {};
      if (::syscall(SYS_capget, &header, data) != 0) return 1;
      data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
      if (::syscall(SYS_capset, &header, data) != 0) return 2;
    }
    SimOptions options;
    options.node_dir = dir;
    options.call_log = dir + "/calls.log";
    auto sim = MakeSimBackend(options).value();
    int ctl = ::open((dir + "/nvidiactl").c_str(), O_RDWR | O_CLOEXEC);
    NVOS21_PARAMETERS root{0, 0, 0, kNv01RootClient, 0, 0, 0};
    return sim->Ioctl(ctl, abi::DeviceKind::kCtl, _IOWR('F', kEscRmAlloc, NVOS21_PARAMETERS), &root, 0) == 0 ? 0 : 3;
  });
  std::ifstream log(dir + "/calls.log");
  std::string line;
  std::getline(log, line);
  std::filesystem::remove_all(dir);
  return status == 0 ? line : "child failed " + std::to_string(status);
}

TEST(SimPrivilege, AClientIsAnAdministratorsWhenItsCallerHasSysAdmin) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs CAP_SYS_ADMIN to have one to drop";
  EXPECT_NE(RootClientLogLine(false).find(" priv=admin"), std::string::npos) << RootClientLogLine(false);
  EXPECT_NE(RootClientLogLine(true).find(" priv=user"), std::string::npos) << RootClientLogLine(true);
}

}  // namespace
// The controls the kernel module hands to the GSP firmware unread: a legacy GSS
// control on a subdevice and a control on an NV2081_BINAPI object. The sim
// answers those an H200's firmware answered CUDA (NV_OK, the parameters as they
// came), and no other: unknown answers are not made up. Found on a real driver
// (docs/gpu-validation.md, run 1), where the sim had refused them all.
TEST_F(SimTest, GspForwardedControlsAnswerAsTheRealFirmwareDid) {
  NvHandle client = ClientWithGpu();
  ASSERT_EQ(Alloc(client, 0xd0, 0xd1, kNv20Subdevice0), kNvOk);
  ASSERT_EQ(Alloc(client, 0xd1, 0xd2, abi::kBinapiClass), kNvOk) << "an NV2081_BINAPI object under the subdevice";

  std::array<std::uint8_t, 992> binapi{};
  EXPECT_EQ(Control(client, 0xd2, 0x20810108, binapi.data(), binapi.size()), kNvOk);
  std::array<std::uint8_t, 332> gss{};
  gss[0] = 2;
  gss[4] = 12;
  std::array<std::uint8_t, 332> sent = gss;
  EXPECT_EQ(Control(client, 0xd1, 0x20808159, gss.data(), gss.size()), kNvOk);
  EXPECT_EQ(gss, sent) << "the parameters come back as they went";
  std::uint8_t one = 0;
  EXPECT_EQ(Control(client, 0xd1, 0x20808162, &one, 1), kNvOk);

  EXPECT_EQ(Control(client, 0xd1, 0x20808159, gss.data(), 16), kNvErrNotSupported) << "not the size seen";
  EXPECT_EQ(Control(client, 0xd1, 0x20808163, &one, 1), kNvErrNotSupported) << "never seen answered";
  EXPECT_EQ(Control(client, 0xd2, 0x20810109, binapi.data(), binapi.size()), kNvErrNotSupported);
}

}  // namespace nvgate::backend

