// The proxy's handler kinds, each exercised once against an inline table, with
// the workload's memory and files faked in-process and a scripted backend.
#include "proxy/proxy.h"

#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/nv_structs.h"
#include "error/error.h"

namespace nvgate::proxy {
namespace {

using caps::Capability;
using ::testing::HasSubstr;

// The "workload" is this process: addresses are our own pointers.
class SelfMemory : public TargetMemory {
 public:
  bool Read(std::uint64_t addr, void* out, std::size_t len) override {
    if (addr == 0 || addr == fault_addr) return false;
    std::memcpy(out, reinterpret_cast<const void*>(addr), len);
    ++reads;
    return true;
  }
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override {
    if (addr == 0 || addr == fault_addr) return false;
    std::memcpy(reinterpret_cast<void*>(addr), in, len);
    return true;
  }
  std::uint64_t fault_addr = 1;
  int reads = 0;
};

class SelfFiles : public TargetFiles {
 public:
  // This process holds its own files: nothing to add for the driver to see.
  int HoldCallerGpuFiles(std::vector<fd::OwnedFd>&) override { return 0; }
  int Duplicate(int target_fd) override {
    int fd = ::fcntl(target_fd, F_DUPFD_CLOEXEC, 100);
    return fd < 0 ? -errno : fd;
  }
  int Install(int fd) override {
    int installed = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return installed < 0 ? -errno : installed;
  }
};

// A backend whose behaviour each test scripts; it records what it was given.
class ScriptedBackend : public backend::Backend {
 public:
  std::string_view Name() const override { return "scripted"; }
  Result<std::string> DriverVersion() override { return "1.0"; }
  abi::DeviceKind Classify(const struct stat&) const override { return abi::DeviceKind::kCtl; }
  std::vector<backend::DeviceNode> Nodes() const override { return {}; }
  int Ioctl(int fd, abi::DeviceKind, std::uint32_t request, void* arg, int) override {
    ++calls;
    last_fd = fd;
    last_request = request;
    return on_ioctl ? on_ioctl(request, arg) : 0;
  }
  std::function<int(std::uint32_t, void*)> on_ioctl;
  int calls = 0;
  int last_fd = -1;
  std::uint32_t last_request = 0;
};

const abi::Table& TestTable() {
  static const abi::Table t =
      abi::Table::Parse(
          "#branch\t1\n#versions\t1.0\n"
          "frontend\tNV_ESC_RM_ALLOC_MEMORY\t0x27\tbase\trm_alloc_memory\tW\t56\t"
          "client:hRoot@0;status:status@40;fd:fd@48\n"
          "frontend\tNV_ESC_RM_FREE\t0x29\tbase\trm_free\tNVOS00\t16\tclient:hRoot@0;status:status@12\n"
          "frontend\tNV_ESC_RM_SHARE\t0x35\tbase\tsimple\tNVOS57\t24\t"
          "client:hClient@0;share:sharePolicy@8;status:status@20\n"
          "frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\tNVOS54\t32\t-\n"
          "frontend\tNV_ESC_RM_ALLOC\t0x2b\tbase\trm_alloc\t-\t0\t-\n"
          "frontend\tNV_ESC_RM_VID_HEAP_CONTROL\t0x4a\tbase\trm_vid_heap\tNVOS32\t184\tclient:hRoot@0\n"
          "frontend\tNV_ESC_RM_MAP_MEMORY\t0x4e\tbase\tsimple\tW33\t56\tclient:hClient@0;status:status@40;fd:fd@48\n"
          "frontend\tNV_ESC_CARD_INFO\t0xc8\tbase\tbytes\t-\t0\t-\n"
          "frontend\tNV_ESC_CHECK_VERSION_STR\t0xd2\tbase\tsimple\tV\t72\t-\n"
          "frontend\tNV_ESC_IOCTL_XFER_CMD\t0xd3\t-\tdeny\t-\t16\t-\n"
          "frontend\tNV_ESC_EXPORT_TO_DMABUF_FD\t0xd9\trdma\texport_dmabuf\tD\t16\tfd:fd@0;client:hClient@4;status:status@12\n"
          "uvm\tUVM_INITIALIZE\t0x30000001\tcompute\tuvm_initialize\tU\t16\t-\n"
          "uvm\tUVM_DEINITIALIZE\t0x30000002\tcompute\tno_params\t-\t0\t-\n"
          "uvm\tUVM_MM_INITIALIZE\t0x4b\tcompute\tsimple\tM\t8\tfd:uvmFd@0\n"
          "control\tNV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS\t0x201\tbase\tsimple\tA\t128\t-\n"
          "control\tLIST\t0x20801201\tcompute\tsimple\tL\t16\tinout:list@8:count@0:8\n"
          "control\tCAPS\t0x801701\tcompute\tsimple\tC\t16\tout:capsTbl@8:capsTblSize@0:1\n"
          "control\tSQUARE\t0x127\tcompute\tsimple\tS\t16\tsquare:tbl@8:n@0:4\n"
          "control\tNULLED\t0x205\tcompute\tsimple\tN\t16\tnull:szName@8\n"
          "control\tEXPORT_FD\t0x3d05\tcompute\tsimple\tE\t8\tfd:fd@0;client:hClient@4\n"
          "control\tVIDEO_ONLY\t0x2080016c\tvideo\tsimple\tX\t8\t-\n"
          "control\tNO_PARAMS\t0x1\tcompute\tno_params\t-\t0\t-\n"
          "alloc\tNV01_ROOT_CLIENT\t0x41\tbase\troot_client\tH\t4\t-\n"
          "alloc\tNV01_DEVICE_0\t0x80\tbase\tsimple\tD0\t8\t-\n"
          "alloc\tNVB8B0_VIDEO_DECODER\t0xb8b0\tvideo\tsimple\tV0\t8\t-\n"
          "alloc\tNV01_EVENT_OS_EVENT\t0x79\tbase\tsimple\tE0\t24\tfd:data@16\n"
          "alloc_memory\tNV01_MEMORY_SYSTEM\t0x3e\tbase\tsimple\t-\t0\t-\n"
          "alloc_memory\tNV01_MEMORY_SYSTEM_OS_DESCRIPTOR\t0x71\t-\tdeny\t-\t0\t-\n"
          "vid_heap\tNVOS32_FUNCTION_ALLOC_SIZE\t0x2\tbase\tsimple\t-\t0\t-\n")
          .value();
  return t;
}

constexpr std::uint32_t kClient = 0xc1d00001;

class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest() : denials_([this](const policy::Denial& d) { log_.push_back(d.line); }) {}

  void SetUp() override {
    ctl_fd_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ASSERT_GE(ctl_fd_, 0);
  }
  void TearDown() override { ::close(ctl_fd_); }

  Proxy& MakeProxy(caps::CapSet enabled) {
    proxy_.emplace(TestTable(), enabled, backend_, denials_);
    return *proxy_;
  }

  Reply Frontend(std::uint32_t nr, void* arg, std::uint32_t size) {
    Call call{.fd = ctl_fd_, .device = abi::DeviceKind::kCtl,
              .request = static_cast<std::uint32_t>(_IOC(_IOC_READ | _IOC_WRITE, 'F', nr, size)),
              .arg = reinterpret_cast<std::uintptr_t>(arg), .pid = 42};
    return proxy_->Execute(call, memory_, files_);
  }
  Reply Uvm(std::uint32_t request, void* arg) {
    Call call{.fd = ctl_fd_, .device = abi::DeviceKind::kUvm, .request = request,
              .arg = reinterpret_cast<std::uintptr_t>(arg), .pid = 42};
    return proxy_->Execute(call, memory_, files_);
  }

  // Allocates a root client through the proxy so that later calls may name it.
  void AllocClient() {
    backend_.on_ioctl = [](std::uint32_t, void* arg) {
      static_cast<nv::NVOS21_PARAMETERS*>(arg)->hObjectNew = kClient;
      return 0;
    };
    nv::NvHandle params = 0;
    nv::NVOS21_PARAMETERS os21{.hRoot = 0, .hObjectParent = 0, .hObjectNew = 0,
                               .hClass = nv::kNv01RootClient,
                               .pAllocParms = reinterpret_cast<std::uintptr_t>(&params),
                               .paramsSize = 4, .status = 0};
    ASSERT_EQ(Frontend(0x2b, &os21, sizeof os21).error, 0);
    ASSERT_EQ(os21.hObjectNew, kClient);
    backend_.on_ioctl = nullptr;
    backend_.calls = 0;
  }

  nv::NVOS54_PARAMETERS Control(std::uint32_t cmd, void* params, std::uint32_t size,
                                std::uint32_t client = kClient) {
    nv::NVOS54_PARAMETERS os54{.hClient = client, .hObject = client, .cmd = cmd, .flags = 0,
                               .params = reinterpret_cast<std::uintptr_t>(params),
                               .paramsSize = size, .status = 0};
    last_reply_ = Frontend(0x2a, &os54, sizeof os54);
    return os54;
  }

  ScriptedBackend backend_;
  std::vector<std::string> log_;
  policy::DenialLog denials_;
  std::optional<Proxy> proxy_;
  SelfMemory memory_;
  SelfFiles files_;
  int ctl_fd_ = -1;
  Reply last_reply_;
};

TEST_F(ProxyTest, SimpleCopiesInRunsOnTheCopyAndCopiesOut) {
  MakeProxy({Capability::kCompute});
  nv::nv_ioctl_rm_api_version_t v{};
  v.cmd = nv::kRmApiVersionCmdQuery;
  backend_.on_ioctl = [&](std::uint32_t request, void* arg) {
    EXPECT_NE(arg, &v) << "the driver must run on the supervisor's copy";
    EXPECT_EQ(request, static_cast<std::uint32_t>(_IOC(_IOC_READ | _IOC_WRITE, 'F', 0xd2, 72)));
    auto* copy = static_cast<nv::nv_ioctl_rm_api_version_t*>(arg);
    EXPECT_EQ(copy->cmd, nv::kRmApiVersionCmdQuery);
    std::strcpy(copy->versionString, "1.0");
    return 0;
  };
  Reply r = Frontend(0xd2, &v, sizeof v);
  EXPECT_EQ(r.error, 0);
  EXPECT_STREQ(v.versionString, "1.0");
  EXPECT_EQ(backend_.last_fd, ctl_fd_);
}

// The driver decodes only nr and size: nvgate re-encodes what it decoded.
TEST_F(ProxyTest, RequestIsReencodedFromNrAndSize) {
  MakeProxy({Capability::kCompute});
  nv::nv_ioctl_rm_api_version_t v{};
  Call call{.fd = ctl_fd_, .device = abi::DeviceKind::kGpu,
            .request = static_cast<std::uint32_t>(_IOC(_IOC_NONE, 'Z', 0xd2, 72)),
            .arg = reinterpret_cast<std::uintptr_t>(&v), .pid = 1};
  EXPECT_EQ(proxy_->Execute(call, memory_, files_).error, 0);
  EXPECT_EQ(backend_.last_request, static_cast<std::uint32_t>(_IOC(_IOC_READ | _IOC_WRITE, 'F', 0xd2, 72)));
}

TEST_F(ProxyTest, WrongSizeIsEinvalAndNotExecuted) {
  MakeProxy({Capability::kCompute});
  char buf[80] = {};
  EXPECT_EQ(Frontend(0xd2, buf, 80).error, EINVAL);
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ProxyTest, UnknownAndDenyRowsAreEinvalAndLogged) {
  MakeProxy(caps::CapSet::Everything());
  char buf[16] = {};
  EXPECT_EQ(Frontend(0xd3, buf, 16).error, EINVAL);
  EXPECT_EQ(Frontend(0x99, buf, 16).error, EINVAL);
  EXPECT_EQ(backend_.calls, 0);
  EXPECT_EQ(memory_.reads, 0) << "a refusal decided on registers reads nothing";
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_THAT(log_[0], HasSubstr("NV_ESC_IOCTL_XFER_CMD (frontend 0xd3) denied"));
  EXPECT_THAT(log_[1], HasSubstr("frontend 0x99 denied"));
}

TEST_F(ProxyTest, DenialsAreLoggedOncePerProcessAndCall) {
  MakeProxy({Capability::kCompute});
  char buf[16] = {};
  Frontend(0xd3, buf, 16);
  Frontend(0xd3, buf, 16);
  EXPECT_EQ(log_.size(), 1u);
}

TEST_F(ProxyTest, BytesTakesItsSizeFromTheRequest) {
  MakeProxy({Capability::kUtility});
  std::vector<nv::nv_ioctl_card_info_t> cards(3);
  backend_.on_ioctl = [](std::uint32_t request, void* arg) {
    EXPECT_EQ(_IOC_SIZE(request), 3 * sizeof(nv::nv_ioctl_card_info_t));
    static_cast<nv::nv_ioctl_card_info_t*>(arg)[2].valid = 1;
    return 0;
  };
  EXPECT_EQ(Frontend(0xc8, cards.data(), 3 * sizeof(nv::nv_ioctl_card_info_t)).error, 0);
  EXPECT_EQ(cards[2].valid, 1);
}

TEST_F(ProxyTest, BackendErrorsPassThroughAfterCopyOut) {
  MakeProxy({Capability::kCompute});
  nv::nv_ioctl_rm_api_version_t v{};
  backend_.on_ioctl = [](std::uint32_t, void* arg) {
    static_cast<nv::nv_ioctl_rm_api_version_t*>(arg)->reply = 7;
    return -EINVAL;
  };
  EXPECT_EQ(Frontend(0xd2, &v, sizeof v).error, EINVAL);
  EXPECT_EQ(v.reply, 7u) << "the driver copies out even on failure";
}

TEST_F(ProxyTest, UnreadableArgumentIsEfault) {
  MakeProxy({Capability::kCompute});
  Call call{.fd = ctl_fd_, .device = abi::DeviceKind::kCtl,
            .request = static_cast<std::uint32_t>(_IOC(_IOC_READ | _IOC_WRITE, 'F', 0xd2, 72)),
            .arg = memory_.fault_addr, .pid = 1};
  EXPECT_EQ(proxy_->Execute(call, memory_, files_).error, EFAULT);
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ProxyTest, RootClientIsRecordedAndOthersAreForeign) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  EXPECT_TRUE(proxy_->clients().Owns(kClient));

  std::array<std::uint32_t, 32> ids{};
  auto os54 = Control(0x201, ids.data(), sizeof ids, /*client=*/0xbad);
  EXPECT_EQ(last_reply_.error, 0);
  EXPECT_EQ(os54.status, nv::kNvErrInvalidClient);
  EXPECT_EQ(backend_.calls, 0);
  EXPECT_THAT(log_.back(), HasSubstr("RM client 0xbad that this workload did not create"));
}

// RM sees every sandbox as nvgate's process: only a share with one of this
// workload's own clients, or a revocation, stays inside the sandbox.
TEST_F(ProxyTest, ShareReachingPastTheWorkloadIsRefused) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  for (std::uint16_t type : {std::uint16_t{1}, std::uint16_t{2}, std::uint16_t{4}, std::uint16_t{6}}) {
    nv::NVOS57_PARAMETERS share{kClient, 0x200, {kClient, 0xffffffff, type, 0}, 0};
    EXPECT_EQ(Frontend(0x35, &share, sizeof share).error, 0);
    EXPECT_EQ(share.status, nv::kNvErrInsufficientPermissions) << "share type " << type;
  }
  nv::NVOS57_PARAMETERS to_foreign{kClient, 0x200, {0xbad, 0xffffffff, nv::kRsShareTypeClient, 0}, 0};
  EXPECT_EQ(Frontend(0x35, &to_foreign, sizeof to_foreign).error, 0);
  EXPECT_EQ(to_foreign.status, nv::kNvErrInsufficientPermissions);
  EXPECT_EQ(backend_.calls, 0);
  EXPECT_THAT(log_.back(), HasSubstr("share type 1 would let other sandboxes use the object"));
}

TEST_F(ProxyTest, ShareWithinTheWorkloadAndRevocationsPass) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  nv::NVOS57_PARAMETERS own{kClient, 0x200, {kClient, 0xffffffff, nv::kRsShareTypeClient, 0}, 0};
  EXPECT_EQ(Frontend(0x35, &own, sizeof own).error, 0);
  EXPECT_EQ(own.status, nv::kNvOk);
  nv::NVOS57_PARAMETERS revoke{kClient, 0x200, {0, 0xffffffff, nv::kRsShareTypeAll,
                                                nv::kRsShareActionFlagRevoke}, 0};
  EXPECT_EQ(Frontend(0x35, &revoke, sizeof revoke).error, 0);
  EXPECT_EQ(revoke.status, nv::kNvOk);
  EXPECT_EQ(backend_.calls, 2);
}

TEST_F(ProxyTest, ControlRunsOnCopiedParamsAndRestoresThePointer) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::array<std::uint32_t, 32> ids{};
  void* seen = nullptr;
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* os54 = static_cast<nv::NVOS54_PARAMETERS*>(arg);
    seen = reinterpret_cast<void*>(os54->params);
    static_cast<std::uint32_t*>(seen)[0] = 0x100;
    return 0;
  };
  auto os54 = Control(0x201, ids.data(), sizeof ids);
  EXPECT_EQ(os54.status, nv::kNvOk);
  EXPECT_NE(seen, ids.data());
  EXPECT_EQ(ids[0], 0x100u);
  EXPECT_EQ(os54.params, reinterpret_cast<std::uintptr_t>(ids.data()));
}

TEST_F(ProxyTest, ControlDeniedByCapabilityAnswersNotSupported) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::uint64_t p = 0;
  auto os54 = Control(0x2080016c, &p, sizeof p);
  EXPECT_EQ(last_reply_.error, 0);
  EXPECT_EQ(os54.status, nv::kNvErrNotSupported);
  EXPECT_EQ(backend_.calls, 0);
  EXPECT_THAT(log_.back(), HasSubstr("video: VIDEO_ONLY (control 0x2080016c) denied; enable with "
                                     "NVIDIA_DRIVER_CAPABILITIES=compute,video"));
  auto unknown = Control(0x20808000, &p, sizeof p);
  EXPECT_EQ(unknown.status, nv::kNvErrNotSupported) << "legacy-GSP bit: not in the table";
}

TEST_F(ProxyTest, ControlWrongParamsSizeOrSerializedIsRefused) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::array<std::uint32_t, 32> ids{};
  EXPECT_EQ(Control(0x201, ids.data(), 64).status, nv::kNvErrInvalidArgument);
  nv::NVOS54_PARAMETERS os54{.hClient = kClient, .hObject = kClient, .cmd = 0x201,
                             .flags = nv::kNvos54FlagsFinnSerialized,
                             .params = reinterpret_cast<std::uintptr_t>(ids.data()),
                             .paramsSize = sizeof ids, .status = 0};
  Frontend(0x2a, &os54, sizeof os54);
  EXPECT_EQ(os54.status, nv::kNvErrNotSupported);
  EXPECT_EQ(backend_.calls, 0);
  ASSERT_FALSE(log_.empty());
  EXPECT_THAT(log_.back(), HasSubstr("unsupported: control "));
  EXPECT_THAT(log_.back(), HasSubstr("with serialized (FINN) parameters"));
}

TEST_F(ProxyTest, ControlSizeWithoutPointerOrPointerWithoutSizeIsInvalidArgument) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::uint64_t p = 0;
  EXPECT_EQ(Control(0x1, &p, 0).status, nv::kNvErrInvalidArgument);
  EXPECT_EQ(Control(0x201, nullptr, 128).status, nv::kNvErrInvalidArgument);
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ProxyTest, ControlWithoutParams) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  backend_.on_ioctl = [](std::uint32_t, void* arg) {
    EXPECT_EQ(static_cast<nv::NVOS54_PARAMETERS*>(arg)->params, 0u);
    return 0;
  };
  EXPECT_EQ(Control(0x1, nullptr, 0).status, nv::kNvOk);
  EXPECT_EQ(backend_.calls, 1);
}

struct ListParams {
  std::uint32_t count;
  std::uint32_t pad;
  std::uint64_t list;
};

TEST_F(ProxyTest, NestedListIsDeepCopiedBothWays) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::array<std::uint64_t, 4> list = {1, 2, 3, 4};
  ListParams params{.count = 4, .pad = 0, .list = reinterpret_cast<std::uintptr_t>(list.data())};
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* p = reinterpret_cast<ListParams*>(static_cast<nv::NVOS54_PARAMETERS*>(arg)->params);
    auto* copy = reinterpret_cast<std::uint64_t*>(p->list);
    EXPECT_NE(copy, list.data());
    EXPECT_EQ(copy[3], 4u);
    copy[3] = 40;
    return 0;
  };
  EXPECT_EQ(Control(0x20801201, &params, sizeof params).status, nv::kNvOk);
  EXPECT_EQ(list[3], 40u);
  EXPECT_EQ(params.list, reinterpret_cast<std::uintptr_t>(list.data())) << "pointer restored";
}

TEST_F(ProxyTest, OutBufferIsZeroFilledNotRead) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::array<std::uint8_t, 8> caps_table;
  caps_table.fill(0xee);
  ListParams params{.count = 8, .pad = 0, .list = reinterpret_cast<std::uintptr_t>(caps_table.data())};
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* p = reinterpret_cast<ListParams*>(static_cast<nv::NVOS54_PARAMETERS*>(arg)->params);
    auto* copy = reinterpret_cast<std::uint8_t*>(p->list);
    EXPECT_EQ(copy[0], 0) << "never read from the workload";
    copy[1] = 7;
    return 0;
  };
  Control(0x801701, &params, sizeof params);
  EXPECT_EQ(caps_table[0], 0);
  EXPECT_EQ(caps_table[1], 7);
}

TEST_F(ProxyTest, SquareTablesAndOversizedListsAreBounded) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::array<std::uint32_t, 9> tbl{};
  ListParams square{.count = 3, .pad = 0, .list = reinterpret_cast<std::uintptr_t>(tbl.data())};
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* p = reinterpret_cast<ListParams*>(static_cast<nv::NVOS54_PARAMETERS*>(arg)->params);
    reinterpret_cast<std::uint32_t*>(p->list)[8] = 9;
    return 0;
  };
  EXPECT_EQ(Control(0x127, &square, sizeof square).status, nv::kNvOk);
  EXPECT_EQ(tbl[8], 9u);

  backend_.calls = 0;
  ListParams huge{.count = 0x10000, .pad = 0, .list = reinterpret_cast<std::uintptr_t>(tbl.data())};
  EXPECT_EQ(Control(0x127, &huge, sizeof huge).status, nv::kNvErrInvalidArgument)
      << "0x10000^2 * 4 bytes is over the 1 MiB bound";
  ListParams huge_list{.count = 0xffffffff, .pad = 0, .list = reinterpret_cast<std::uintptr_t>(tbl.data())};
  EXPECT_EQ(Control(0x20801201, &huge_list, sizeof huge_list).status, nv::kNvErrInvalidArgument);
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ProxyTest, NullItemHidesThePointerFromTheDriver) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  ListParams params{.count = 0, .pad = 0, .list = 0xdeadbeef};
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* p = reinterpret_cast<ListParams*>(static_cast<nv::NVOS54_PARAMETERS*>(arg)->params);
    EXPECT_EQ(p->list, 0u);
    return 0;
  };
  Control(0x205, &params, sizeof params);
  EXPECT_EQ(backend_.calls, 1);
  EXPECT_EQ(params.list, 0xdeadbeefu);
}

struct FdParams {
  std::int32_t fd;
  std::uint32_t hClient;
};

TEST_F(ProxyTest, FdInsideControlParamsIsTranslatedAndRestored) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  FdParams params{.fd = ctl_fd_, .hClient = kClient};
  int seen = -1;
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* p = reinterpret_cast<FdParams*>(static_cast<nv::NVOS54_PARAMETERS*>(arg)->params);
    seen = p->fd;
    struct stat a, b;
    EXPECT_EQ(::fstat(seen, &a), 0);
    EXPECT_EQ(::fstat(ctl_fd_, &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << "the supervisor's duplicate of the same file";
    return 0;
  };
  EXPECT_EQ(Control(0x3d05, &params, sizeof params).status, nv::kNvOk);
  EXPECT_NE(seen, ctl_fd_);
  EXPECT_EQ(params.fd, ctl_fd_);
  EXPECT_EQ(::fcntl(seen, F_GETFD), -1) << "the duplicate is closed after the call";

  FdParams bad{.fd = 999, .hClient = kClient};
  EXPECT_EQ(Control(0x3d05, &bad, sizeof bad).status, nv::kNvErrInvalidArgument);
  FdParams foreign{.fd = ctl_fd_, .hClient = 0x77};
  EXPECT_EQ(Control(0x3d05, &foreign, sizeof foreign).status, nv::kNvErrInvalidClient);
}

TEST_F(ProxyTest, AllocDeniedByCapabilityAnswersInvalidClass) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::uint64_t params = 0;
  nv::NVOS21_PARAMETERS os21{.hRoot = kClient, .hObjectParent = kClient, .hObjectNew = 5,
                             .hClass = 0xb8b0, .pAllocParms = reinterpret_cast<std::uintptr_t>(&params),
                             .paramsSize = 8, .status = 0};
  EXPECT_EQ(Frontend(0x2b, &os21, sizeof os21).error, 0);
  EXPECT_EQ(os21.status, nv::kNvErrInvalidClass);
  EXPECT_EQ(backend_.calls, 0);
  EXPECT_THAT(log_.back(), HasSubstr("video: NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied"));
}

TEST_F(ProxyTest, AllocLongFormCopiesRightsAndParams) {
  MakeProxy({Capability::kVideo});
  AllocClient();
  std::uint64_t params = 0x1234;
  std::uint32_t rights = 0x3;
  nv::NVOS64_PARAMETERS os64{.hRoot = kClient, .hObjectParent = kClient, .hObjectNew = 5,
                             .hClass = 0xb8b0, .pAllocParms = reinterpret_cast<std::uintptr_t>(&params),
                             .pRightsRequested = reinterpret_cast<std::uintptr_t>(&rights),
                             .paramsSize = 8, .flags = 0, .status = 0};
  backend_.on_ioctl = [&](std::uint32_t request, void* arg) {
    EXPECT_EQ(_IOC_SIZE(request), sizeof(nv::NVOS64_PARAMETERS));
    auto* copy = static_cast<nv::NVOS64_PARAMETERS*>(arg);
    EXPECT_NE(copy->pAllocParms, reinterpret_cast<std::uintptr_t>(&params));
    EXPECT_EQ(*reinterpret_cast<std::uint64_t*>(copy->pAllocParms), 0x1234u);
    EXPECT_EQ(*reinterpret_cast<std::uint32_t*>(copy->pRightsRequested), 0x3u);
    return 0;
  };
  EXPECT_EQ(Frontend(0x2b, &os64, sizeof os64).error, 0);
  EXPECT_EQ(backend_.calls, 1);
  EXPECT_EQ(os64.pAllocParms, reinterpret_cast<std::uintptr_t>(&params));
  EXPECT_EQ(os64.pRightsRequested, reinterpret_cast<std::uintptr_t>(&rights));
  EXPECT_EQ(Frontend(0x2b, &os64, 40).error, EINVAL) << "neither NVOS21 nor NVOS64";
}

TEST_F(ProxyTest, AllocOnForeignClientIsInvalidClient) {
  MakeProxy({Capability::kCompute});
  std::uint64_t params = 0;
  nv::NVOS21_PARAMETERS os21{.hRoot = 0x99, .hObjectParent = 0x99, .hObjectNew = 5, .hClass = 0x80,
                             .pAllocParms = reinterpret_cast<std::uintptr_t>(&params),
                             .paramsSize = 8, .status = 0};
  Frontend(0x2b, &os21, sizeof os21);
  EXPECT_EQ(os21.status, nv::kNvErrInvalidClient);
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ProxyTest, OsEventAllocTranslatesTheFdInData) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  struct { std::uint32_t a, b, c, d; std::uint64_t data; } params{0, 0, 0, 0, static_cast<std::uint64_t>(ctl_fd_)};
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* p = reinterpret_cast<decltype(params)*>(static_cast<nv::NVOS21_PARAMETERS*>(arg)->pAllocParms);
    EXPECT_NE(p->data, static_cast<std::uint64_t>(ctl_fd_));
    return 0;
  };
  nv::NVOS21_PARAMETERS os21{.hRoot = kClient, .hObjectParent = kClient, .hObjectNew = 6,
                             .hClass = 0x79, .pAllocParms = reinterpret_cast<std::uintptr_t>(&params),
                             .paramsSize = 24, .status = 0};
  EXPECT_EQ(Frontend(0x2b, &os21, sizeof os21).error, 0);
  EXPECT_EQ(backend_.calls, 1);
  EXPECT_EQ(params.data, static_cast<std::uint64_t>(ctl_fd_));
}

TEST_F(ProxyTest, FreeOfTheClientForgetsIt) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  nv::NVOS00_PARAMETERS os00{.hRoot = kClient, .hObjectParent = 0, .hObjectOld = kClient, .status = 0};
  EXPECT_EQ(Frontend(0x29, &os00, sizeof os00).error, 0);
  EXPECT_FALSE(proxy_->clients().Owns(kClient));
  EXPECT_EQ(Frontend(0x29, &os00, sizeof os00).error, 0);
  EXPECT_EQ(os00.status, nv::kNvErrInvalidClient);
}

TEST_F(ProxyTest, MapMemoryTranslatesTheMmapFd) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  nv::nv_ioctl_nvos33_parameters_with_fd map{};
  map.params.hClient = kClient;
  map.fd = ctl_fd_;
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    auto* copy = static_cast<nv::nv_ioctl_nvos33_parameters_with_fd*>(arg);
    EXPECT_NE(copy->fd, ctl_fd_);
    copy->params.pLinearAddress = 0x1000;
    return 0;
  };
  EXPECT_EQ(Frontend(0x4e, &map, sizeof map).error, 0);
  EXPECT_EQ(map.fd, ctl_fd_);
  EXPECT_EQ(map.params.pLinearAddress, 0x1000u);

  map.fd = -1;
  backend_.on_ioctl = [](std::uint32_t, void* arg) {
    EXPECT_EQ(static_cast<nv::nv_ioctl_nvos33_parameters_with_fd*>(arg)->fd, -1)
        << "a negative fd names no file: passed as it is, for the driver to refuse";
    return 0;
  };
  EXPECT_EQ(Frontend(0x4e, &map, sizeof map).error, 0);

  map.params.hClient = 0x1;
  backend_.calls = 0;
  EXPECT_EQ(Frontend(0x4e, &map, sizeof map).error, 0);
  EXPECT_EQ(map.params.status, nv::kNvErrInvalidClient);
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ProxyTest, AllocMemoryDispatchesOnClass) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  nv::nv_ioctl_nvos02_parameters_with_fd mem{};
  mem.params.hRoot = kClient;
  mem.params.hClass = 0x71;
  mem.fd = ctl_fd_;
  EXPECT_EQ(Frontend(0x27, &mem, sizeof mem).error, 0);
  EXPECT_EQ(mem.params.status, nv::kNvErrInvalidClass) << "host memory registration is refused";
  EXPECT_EQ(backend_.calls, 0);
  mem.params.hClass = 0x3e;
  mem.params.status = 0;
  EXPECT_EQ(Frontend(0x27, &mem, sizeof mem).error, 0);
  EXPECT_EQ(backend_.calls, 1);
}

TEST_F(ProxyTest, VidHeapDispatchesOnFunction) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  std::array<std::uint8_t, 184> os32{};
  std::memcpy(os32.data(), &kClient, 4);
  std::uint32_t function = 2;
  std::memcpy(os32.data() + 8, &function, 4);
  EXPECT_EQ(Frontend(0x4a, os32.data(), 184).error, 0);
  EXPECT_EQ(backend_.calls, 1);
  function = 5;
  std::memcpy(os32.data() + 8, &function, 4);
  EXPECT_EQ(Frontend(0x4a, os32.data(), 184).error, EINVAL);
  EXPECT_EQ(backend_.calls, 1);
}

TEST_F(ProxyTest, UvmInitializeForcesAndHidesSharingMode) {
  MakeProxy({Capability::kCompute});
  nv::UVM_INITIALIZE_PARAMS init{.flags = 0x1, .rmStatus = 0};
  backend_.on_ioctl = [](std::uint32_t request, void* arg) {
    EXPECT_EQ(request, nv::kUvmInitialize);
    auto* p = static_cast<nv::UVM_INITIALIZE_PARAMS*>(arg);
    EXPECT_EQ(p->flags, 0x1u | nv::kUvmInitFlagsMultiProcessSharingMode);
    return 0;
  };
  EXPECT_EQ(Uvm(nv::kUvmInitialize, &init).error, 0);
  EXPECT_EQ(init.flags, 0x1u);
}

TEST_F(ProxyTest, UvmNoParamsAndFdParams) {
  MakeProxy({Capability::kCompute});
  EXPECT_EQ(Uvm(nv::kUvmDeinitialize, nullptr).error, 0);
  nv::UVM_MM_INITIALIZE_PARAMS mm{.uvmFd = ctl_fd_, .rmStatus = 0};
  backend_.on_ioctl = [&](std::uint32_t, void* arg) {
    EXPECT_NE(static_cast<nv::UVM_MM_INITIALIZE_PARAMS*>(arg)->uvmFd, ctl_fd_);
    return 0;
  };
  EXPECT_EQ(Uvm(0x4b, &mm).error, 0);
  EXPECT_EQ(mm.uvmFd, ctl_fd_);
}

TEST_F(ProxyTest, UvmRefusedWithoutCompute) {
  MakeProxy({Capability::kUtility});
  nv::UVM_INITIALIZE_PARAMS init{};
  EXPECT_EQ(Uvm(nv::kUvmInitialize, &init).error, EINVAL);
  EXPECT_EQ(Uvm(0x7ff, &init).error, EINVAL) << "unknown UVM number";
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ProxyTest, OtherNvidiaNodesAreRefused) {
  MakeProxy(caps::CapSet::Everything());
  char buf[16];
  Call call{.fd = ctl_fd_, .device = abi::DeviceKind::kModeset,
            .request = static_cast<std::uint32_t>(_IOC(_IOC_READ | _IOC_WRITE, 'm', 1, 16)),
            .arg = reinterpret_cast<std::uintptr_t>(buf), .pid = 1};
  EXPECT_EQ(proxy_->Execute(call, memory_, files_).error, EINVAL);
  EXPECT_EQ(backend_.calls, 0);
}

struct DmabufParams {
  std::int32_t fd;
  std::uint32_t hClient;
  std::uint32_t pad;
  std::uint32_t status;
};

TEST_F(ProxyTest, DmabufExportInstallsTheNewFd) {
  MakeProxy({Capability::kRdma});
  AllocClient();
  DmabufParams p{.fd = -1, .hClient = kClient, .pad = 0, .status = 0};
  backend_.on_ioctl = [](std::uint32_t, void* arg) {
    static_cast<DmabufParams*>(arg)->fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
  };
  EXPECT_EQ(Frontend(0xd9, &p, sizeof p).error, 0);
  ASSERT_GE(p.fd, 0);
  EXPECT_GE(::fcntl(p.fd, F_GETFD), 0) << "installed into the workload";
  ::close(p.fd);

  DmabufParams foreign{.fd = -1, .hClient = 0x5, .pad = 0, .status = 0};
  backend_.calls = 0;
  EXPECT_EQ(Frontend(0xd9, &foreign, sizeof foreign).error, 0);
  EXPECT_EQ(foreign.status, nv::kNvErrInvalidClient) << "RM itself does not check this client";
  EXPECT_EQ(backend_.calls, 0);
}

// ---- observers (nvgate trace) ----

class RecordingObserver : public CallObserver {
 public:
  explicit RecordingObserver(bool params) : params_(params) {}
  bool WantsParams() const override { return params_; }
  void Observe(const CallRecord& record) override { records.push_back(record); }
  std::vector<CallRecord> records;

 private:
  bool params_;
};

TEST_F(ProxyTest, ObserverSeesTheInnerDecisionTheDriverCallAndTheStatus) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  RecordingObserver observer(false);
  proxy_->SetObserver(&observer);
  std::uint32_t list[4] = {0, 0, 0, 0};
  Control(0x20801201, list, sizeof list);
  ASSERT_EQ(observer.records.size(), 1u);
  const CallRecord& r = observer.records[0];
  EXPECT_EQ(r.pid, 42);
  EXPECT_EQ(r.request_level, abi::Level::kFrontend);
  EXPECT_EQ(r.request_key, 0x2au);
  EXPECT_EQ(r.size, sizeof(nv::NVOS54_PARAMETERS));
  ASSERT_TRUE(r.decision && r.decision->entry);
  EXPECT_TRUE(r.decision->allowed());
  EXPECT_EQ(r.decision->entry->level, abi::Level::kControl);
  EXPECT_EQ(r.decision->entry->key, 0x20801201u);
  EXPECT_FALSE(r.refusal);
  EXPECT_EQ(r.driver_return, 0);
  EXPECT_EQ(r.status, nv::kNvOk);
  EXPECT_TRUE(r.in.empty()) << "parameters only when the observer asks";
}

TEST_F(ProxyTest, ObserverSeesRefusalsAndTheParameterBytes) {
  MakeProxy({Capability::kCompute});
  AllocClient();
  RecordingObserver observer(true);
  proxy_->SetObserver(&observer);
  std::uint64_t params = 0;
  nv::NVOS54_PARAMETERS os54 = Control(0x2080016c, &params, sizeof params);
  ASSERT_EQ(observer.records.size(), 1u);
  const CallRecord& r = observer.records[0];
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(r.decision->verdict, policy::Verdict::kMissingCapability);
  ASSERT_TRUE(r.refusal);
  EXPECT_EQ(r.refusal->level, abi::Level::kControl);
  EXPECT_THAT(r.refusal->message, HasSubstr("VIDEO_ONLY"));
  EXPECT_FALSE(r.driver_return) << "never reached the driver";
  EXPECT_EQ(r.status, nv::kNvErrNotSupported);
  EXPECT_EQ(os54.status, nv::kNvErrNotSupported) << "the status the workload saw";
  ASSERT_EQ(r.in.size(), 1u);
  EXPECT_EQ(r.in[0].bytes.size(), sizeof os54);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].bytes.size(), sizeof os54);

  // A node nvgate has no table for: refused before any table decision.
  Call call{.fd = ctl_fd_, .device = abi::DeviceKind::kModeset, .request = 0xc0104601,
            .arg = 0, .pid = 7, .tid = 8};
  EXPECT_EQ(proxy_->Execute(call, memory_, files_).error, EINVAL);
  ASSERT_EQ(observer.records.size(), 2u);
  EXPECT_EQ(observer.records[1].tid, 8);
  ASSERT_TRUE(observer.records[1].decision);
  EXPECT_EQ(observer.records[1].decision->verdict, policy::Verdict::kUnknown);
}

}  // namespace
}  // namespace nvgate::proxy
