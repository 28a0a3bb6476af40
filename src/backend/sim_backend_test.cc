// The simulated driver, called directly with the driver's own structs.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  std::uint32_t gr_list[4] = {0, 0, 1, 0};
  struct { std::uint32_t size, pad; std::uint64_t list; std::uint64_t route[2]; } gr{2, 0, reinterpret_cast<std::uintptr_t>(gr_list), {}};
  EXPECT_EQ(Control(client, 0x5d, 0x20801201, &gr, sizeof gr), kNvOk);
  EXPECT_EQ(gr_list[3], 132u) << "the embedded list is written";
  EXPECT_EQ(Control(client, 0x5d, 0x2080ffff, name, sizeof name), kNvErrNotSupported);
  EXPECT_EQ(Control(0xbad, 0xbad, 0x201, ids, sizeof ids), kNvErrInvalidClient);
}

TEST_F(SimTest, Uvm) {
  UVM_INITIALIZE_PARAMS init{kUvmInitFlagsMultiProcessSharingMode, 0};
  EXPECT_EQ(sim_->Ioctl(-1, abi::DeviceKind::kUvm, kUvmInitialize, &init), 0);
  EXPECT_EQ(init.rmStatus, kNvOk);
  EXPECT_EQ(sim_->Ioctl(-1, abi::DeviceKind::kUvm, kUvmInitialize, &init), 0);
  EXPECT_EQ(init.rmStatus, 0x16u) << "a second initialisation is illegal";
  EXPECT_EQ(sim_->Ioctl(-1, abi::DeviceKind::kUvm, 0x7ff, &init), -ENOSYS);
}

}  // namespace
}  // namespace nvgate::backend
