// The simulated driver, called directly with the driver's own structs.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "abi/nv_structs.h"
#include "backend/backend.h"

namespace nvgate::backend {
namespace {

using namespace nv;

std::uint32_t Req(std::uint32_t nr, std::uint32_t size) { return _IOC(_IOC_READ | _IOC_WRITE, 'F', nr, size); }

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = MakeSimBackend({}).value(); }

  int Call(std::uint32_t nr, void* arg, std::uint32_t size) {
    return sim_->Ioctl(-1, abi::DeviceKind::kCtl, Req(nr, size), arg);
  }
  NvV32 Alloc(NvHandle client, NvHandle parent, NvHandle handle, NvV32 cls) {
    std::uint64_t params[8] = {};
    NVOS21_PARAMETERS p{client, parent, handle, cls, reinterpret_cast<std::uintptr_t>(params), 0, 0};
    EXPECT_EQ(Call(kEscRmAlloc, &p, sizeof p), 0);
    return p.status;
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

  std::unique_ptr<Backend> sim_;
};

TEST_F(SimTest, NodesAreFilesItRecognises) {
  int gpus = 0;
  for (const DeviceNode& node : sim_->Nodes()) {
    struct stat st;
    ASSERT_EQ(::stat(node.source_path.c_str(), &st), 0) << node.source_path;
    EXPECT_EQ(sim_->Classify(st), node.kind) << node.dev_path;
    gpus += node.kind == abi::DeviceKind::kGpu;
  }
  EXPECT_EQ(gpus, 1);
  struct stat other;
  ASSERT_EQ(::stat("/dev/null", &other), 0);
  EXPECT_EQ(sim_->Classify(other), abi::DeviceKind::kNotNvidia);
}

TEST_F(SimTest, VersionQueryAndCheck) {
  nv_ioctl_rm_api_version_t v{};
  v.cmd = kRmApiVersionCmdQuery;
  EXPECT_EQ(Call(kEscCheckVersionStr, &v, sizeof v), 0);
  EXPECT_STREQ(v.versionString, "580.159.04");
  nv_ioctl_rm_api_version_t check{};
  std::strcpy(check.versionString, "535.1.1");
  EXPECT_EQ(Call(kEscCheckVersionStr, &check, sizeof check), -EINVAL);
  EXPECT_EQ(Call(kEscCheckVersionStr, &v, 70), -EINVAL) << "exact size, as the driver";
}

TEST_F(SimTest, CardInfoNeedsRoomForEveryGpu) {
  nv_ioctl_card_info_t cards[2] = {};
  EXPECT_EQ(Call(kEscCardInfo, cards, sizeof cards), 0);
  EXPECT_EQ(cards[0].valid, 1);
  EXPECT_EQ(cards[0].pci_info.vendor_id, 0x10de);
  EXPECT_EQ(cards[1].valid, 0);
  EXPECT_EQ(Call(kEscCardInfo, cards, 10), -EINVAL);
}

TEST_F(SimTest, ObjectTreeWithTheDriversStatusCodes) {
  NvHandle client = Client();
  EXPECT_EQ(Alloc(client, client, 0xd0, 0x80), kNvOk);
  EXPECT_EQ(Alloc(client, 0xd0, 0x5d, 0x2080), kNvOk);
  EXPECT_EQ(Alloc(client, 0x5d, 0x100, 0xcbc0), kNvOk);
  EXPECT_EQ(Alloc(client, 0xd0, 0xd0, 0x2080), 0x19u) << "duplicate handle";
  EXPECT_EQ(Alloc(client, 0x777, 0x101, 0xcbc0), 0x36u) << "no such parent";
  EXPECT_EQ(Alloc(client, client, 0x102, 0x2080), 0x36u) << "a subdevice needs a device";
  EXPECT_EQ(Alloc(client, 0x5d, 0x103, 0x1234), kNvErrInvalidClass);
  EXPECT_EQ(Alloc(0xbad, 0xbad, 0x104, 0x80), kNvErrInvalidClient);
}

TEST_F(SimTest, LongAllocForm) {
  NvHandle client = Client();
  NVOS64_PARAMETERS p{client, client, 0xd0, 0x80, 0, 0, 0, 0, 0};
  EXPECT_EQ(Call(kEscRmAlloc, &p, sizeof p), 0);
  EXPECT_EQ(p.status, kNvOk);
  EXPECT_EQ(Call(kEscRmAlloc, &p, 40), -EINVAL);
}

TEST_F(SimTest, FreeingAClientFreesItsObjects) {
  NvHandle client = Client();
  ASSERT_EQ(Alloc(client, client, 0xd0, 0x80), kNvOk);
  ASSERT_EQ(Alloc(client, 0xd0, 0x5d, 0x2080), kNvOk);
  NVOS00_PARAMETERS dev{client, client, 0xd0, 0};
  EXPECT_EQ(Call(kEscRmFree, &dev, sizeof dev), 0);
  EXPECT_EQ(dev.status, kNvOk);
  EXPECT_EQ(Alloc(client, 0x5d, 0x100, 0xcbc0), 0x36u) << "the subdevice went with its device";
  NVOS00_PARAMETERS all{client, 0, client, 0};
  EXPECT_EQ(Call(kEscRmFree, &all, sizeof all), 0);
  EXPECT_EQ(Alloc(client, client, 0xd1, 0x80), kNvErrInvalidClient);
}

TEST_F(SimTest, Controls) {
  NvHandle client = Client();
  ASSERT_EQ(Alloc(client, client, 0xd0, 0x80), kNvOk);
  ASSERT_EQ(Alloc(client, 0xd0, 0x5d, 0x2080), kNvOk);
  std::uint32_t ids[32];
  EXPECT_EQ(Control(client, client, 0x201, ids, sizeof ids), kNvOk);
  EXPECT_EQ(ids[0], 0x100u);
  EXPECT_EQ(ids[1], 0xffffffffu);
  EXPECT_EQ(Control(client, client, 0x201, ids, 64), kNvErrInvalidArgument);
  std::uint32_t classes[201] = {};
  EXPECT_EQ(Control(client, 0xd0, 0x800292, classes, sizeof classes), kNvOk);
  EXPECT_GT(classes[0], 10u);
  std::uint8_t name[132] = {};
  EXPECT_EQ(Control(client, 0x5d, 0x20800110, name, sizeof name), kNvOk);
  EXPECT_STREQ(reinterpret_cast<char*>(name + 4), "NVIDIA H100 80GB HBM3 (nvgate sim)");
  NV2080_CTRL_GPU_INFO gr_list[2] = {{0, 0}, {1, 0}};
  NV2080_CTRL_GR_GET_INFO_PARAMS gr{};
  gr.grInfoListSize = 2;
  gr.grInfoList = reinterpret_cast<std::uintptr_t>(gr_list);
  EXPECT_EQ(Control(client, 0x5d, 0x20801201, &gr, sizeof gr), kNvOk);
  EXPECT_EQ(gr_list[1].data, 132u) << "the embedded list is written";
  EXPECT_EQ(Control(client, 0x5d, 0x2080ffff, name, sizeof name), kNvErrNotSupported);
  EXPECT_EQ(Control(0xbad, 0xbad, 0x201, ids, sizeof ids), kNvErrInvalidClient);
}

TEST_F(SimTest, UvmNeedsInitialisation) {
  auto uvm = [&](std::uint32_t request, void* arg) { return sim_->Ioctl(-1, abi::DeviceKind::kUvm, request, arg); };
  UVM_REGISTER_GPU_PARAMS gpu{};
  EXPECT_EQ(uvm(kUvmRegisterGpu, &gpu), 0);
  EXPECT_EQ(gpu.rmStatus, kNvErrIllegalAction) << "before UVM_INITIALIZE";

  UVM_INITIALIZE_PARAMS init{kUvmInitFlagsMultiProcessSharingMode, 0};
  EXPECT_EQ(uvm(kUvmInitialize, &init), 0);
  EXPECT_EQ(init.rmStatus, kNvOk);
  EXPECT_EQ(uvm(kUvmInitialize, &init), 0);
  EXPECT_EQ(init.rmStatus, kNvOk) << "the same flags again";
  UVM_INITIALIZE_PARAMS other{0, 0};
  EXPECT_EQ(uvm(kUvmInitialize, &other), 0);
  EXPECT_EQ(other.rmStatus, kNvErrInvalidArgument) << "conflicting flags";

  gpu.rmStatus = 0xff;
  EXPECT_EQ(uvm(kUvmRegisterGpu, &gpu), 0);
  EXPECT_EQ(gpu.rmStatus, kNvOk);
  EXPECT_EQ(gpu.numaNodeId, -1);
  UVM_PAGEABLE_MEM_ACCESS_PARAMS pageable{1, 0xff};
  EXPECT_EQ(uvm(kUvmPageableMemAccess, &pageable), 0);
  EXPECT_EQ(pageable.pageableMemAccess, 0);
  EXPECT_EQ(pageable.rmStatus, kNvOk);
  UVM_CREATE_RANGE_GROUP_PARAMS group{};
  EXPECT_EQ(uvm(kUvmCreateRangeGroup, &group), 0);
  EXPECT_NE(group.rangeGroupId, 0u);
  auto map = std::make_unique<UVM_MAP_EXTERNAL_ALLOCATION_PARAMS>();
  map->rmStatus = 0xff;
  EXPECT_EQ(uvm(kUvmMapExternalAllocation, map.get()), 0);
  EXPECT_EQ(map->rmStatus, kNvOk);
  EXPECT_EQ(uvm(0x7ff, &init), -ENOSYS);
}

TEST_F(SimTest, VersionMismatchIsUnrecognised) {
  nv_ioctl_rm_api_version_t check{};
  std::strcpy(check.versionString, "535.1.1");
  EXPECT_EQ(Call(kEscCheckVersionStr, &check, sizeof check), -EINVAL);
  EXPECT_EQ(check.reply, 0u);
  EXPECT_STREQ(check.versionString, "580.159.04") << "the driver tells its own version";
  nv_ioctl_rm_api_version_t same{};
  std::strcpy(same.versionString, "580.159.04");
  EXPECT_EQ(Call(kEscCheckVersionStr, &same, sizeof same), 0);
  EXPECT_EQ(same.reply, kRmApiVersionReplyRecognized);
}

TEST_F(SimTest, UnknownEscapesAndWrongSizes) {
  std::uint8_t buf[64] = {};
  EXPECT_EQ(Call(0x7f, buf, 8), -EINVAL);
  EXPECT_EQ(Call(kEscRegisterFd, buf, 8), -EINVAL);
  EXPECT_EQ(Call(kEscRmFree, buf, 20), -EINVAL);
  EXPECT_EQ(Call(kEscRmControl, buf, 40), -EINVAL);
}

TEST_F(SimTest, ControlsBelongToTheirClass) {
  NvHandle client = Client();
  ASSERT_EQ(Alloc(client, client, 0xd0, 0x80), kNvOk);
  ASSERT_EQ(Alloc(client, 0xd0, 0x5d, 0x2080), kNvOk);
  NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS name{};
  EXPECT_EQ(Control(client, 0xd0, kNv2080CtrlCmdGpuGetNameString, &name, sizeof name), kNvErrNotSupported)
      << "a subdevice command on the device";
  NV0080_CTRL_GPU_GET_NUM_SUBDEVICES_PARAMS n{};
  EXPECT_EQ(Control(client, 0xd0, kNv0080CtrlCmdGpuGetNumSubdevices, &n, sizeof n), kNvOk);
  EXPECT_EQ(n.numSubDevices, 1u);
  NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS build{};
  EXPECT_EQ(Control(client, client, kNv0000CtrlCmdSystemGetBuildVersionV2, &build, sizeof build), kNvOk);
  EXPECT_STREQ(build.driverVersionBuffer, "580.159.04");
  NV2080_CTRL_GPU_GET_GID_INFO_PARAMS gid{};
  gid.flags = kGidFlagsFormatBinary;
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuGetGidInfo, &gid, sizeof gid), kNvOk);
  EXPECT_EQ(gid.length, 16u);
  NV2080_CTRL_GPU_GET_INFO_V2_PARAMS info{};
  info.gpuInfoListSize = 71;
  EXPECT_EQ(Control(client, 0x5d, kNv2080CtrlCmdGpuGetInfoV2, &info, sizeof info), kNvErrInvalidArgument);

  ASSERT_EQ(Alloc(client, 0xd0, 0x200, 0xa06c), kNvOk);
  ASSERT_EQ(Alloc(client, 0x200, 0x201, 0xc86f), kNvOk);
  NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS token{};
  EXPECT_EQ(Control(client, 0x201, kNvc36fCtrlCmdGpfifoGetWorkSubmitToken, &token, sizeof token), kNvOk)
      << "a Hopper channel answers the C36F commands";
  NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS schedule{1, 0, 0};
  EXPECT_EQ(Control(client, 0x200, kNva06cCtrlCmdGpfifoSchedule, &schedule, sizeof schedule), kNvOk);
  EXPECT_EQ(Control(client, 0x200, kNva06cCtrlCmdGpfifoSchedule, &schedule, 4), kNvErrInvalidArgument);
}

TEST_F(SimTest, MemoryEventsAndDuplicates) {
  NvHandle client = Client();
  ASSERT_EQ(Alloc(client, client, 0xd0, 0x80), kNvOk);
  EXPECT_EQ(Alloc(client, client, 0xe0, 0x79), kNvOk) << "an OS event may hang off the client";
  nv_ioctl_nvos02_parameters_with_fd mem{};
  mem.params = {client, 0xd0, 0x300, kNv01MemorySystem, 0, 0, (1 << 20) - 1, 0xff};
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem), 0);
  EXPECT_EQ(mem.params.status, kNvOk);
  mem.params.hObjectNew = 0x301;
  mem.params.hClass = 0x40;
  EXPECT_EQ(Call(kEscRmAllocMemory, &mem, sizeof mem), 0);
  EXPECT_EQ(mem.params.status, kNvErrInvalidClass);

  NvHandle other = Client();
  NVOS55_PARAMETERS dup{other, other, 0x400, client, 0x300, 0, 0xff};
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvOk);
  dup.hObjectSrc = 0x999;
  dup.hObject = 0x401;
  EXPECT_EQ(Call(kEscRmDupObject, &dup, sizeof dup), 0);
  EXPECT_EQ(dup.status, kNvErrInvalidObjectHandle);

  nv_ioctl_nvos33_parameters_with_fd map{};
  map.params = {client, 0xd0, 0x300, 0, 4096, 0, 0xff, 0};
  EXPECT_EQ(Call(kEscRmMapMemory, &map, sizeof map), 0);
  EXPECT_EQ(map.params.status, kNvOk);
  EXPECT_NE(map.params.pLinearAddress, 0u);
}

}  // namespace
}  // namespace nvgate::backend
