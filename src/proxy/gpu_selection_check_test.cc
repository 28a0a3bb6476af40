#include "proxy/gpu_selection_check.h"

#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/nv_structs.h"

namespace nvgate::proxy {
namespace {

using ::testing::Optional;

std::vector<gpus::Gpu> TwoGpus() {
  return {{.index = 0, .gpu_id = 0x100, .uuid = "GPU-6e766761-7465-2d73-696d-000000000000",
           .pci_bus_id = "0000:18:00.0", .device_instance = 0},
          {.index = 1, .gpu_id = 0x101, .uuid = "GPU-6e766761-7465-2d73-696d-000000000001",
           .pci_bus_id = "0000:19:00.0", .device_instance = 1}};
}

GpuScope OnlyGpu1() {
  auto machine = TwoGpus();
  return {.selection = gpus::Selection::Of(gpus::RequestKind::kList, {machine[1]}, machine.size()),
          .machine = machine};
}

constexpr const char* kGpu0 = "GPU 0 (GPU-6e766761-7465-2d73-696d-000000000000)";

class GpuSelectionCheckTest : public ::testing::Test {
 protected:
  const abi::Entry& Row(abi::Level level, std::string_view name) {
    const abi::Entry* entry = table_->FindByName(level, name);
    EXPECT_NE(entry, nullptr) << name;
    return *entry;
  }
  // What a row's parameters name with `first` as their first 32-bit field.
  std::optional<std::string> WithFirstWord(abi::Level level, std::string_view name, std::uint32_t first,
                                           const GpuScope& scope) {
    const abi::Entry& entry = Row(level, name);
    std::vector<std::byte> params(std::max<std::uint32_t>(entry.param_size, 16));
    std::memcpy(params.data(), &first, sizeof first);
    return GpuOutsideScope(entry, params, scope);
  }

  const abi::Table* table_ = abi::TableForVersion("580.159.04");
};

// A misspelt name would leave its call unchecked. (A branch without the call,
// 535 without ASYNC_ATTACH_ID and WAIT_ATTACH_ID, has no row: refused as unknown.)
TEST_F(GpuSelectionCheckTest, EveryCallNamedIsARowOfTheTables) {
  for (auto [level, name] : GpuNamingCalls()) {
    EXPECT_NE(table_->FindByName(level, name), nullptr) << name;
  }
}

TEST_F(GpuSelectionCheckTest, ControlsTakingAGpuIdFirst) {
  const GpuScope scope = OnlyGpu1();
  for (const char* name : {"NV0000_CTRL_CMD_GPU_GET_ID_INFO", "NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2",
                           "NV0000_CTRL_CMD_GPU_GET_PCI_INFO", "NV0000_CTRL_CMD_GPU_GET_UUID_FROM_GPU_ID",
                           "NV0000_CTRL_CMD_GPU_QUERY_DRAIN_STATE", "NV0000_CTRL_CMD_GPU_ASYNC_ATTACH_ID",
                           "NV0000_CTRL_CMD_GPU_WAIT_ATTACH_ID"}) {
    EXPECT_THAT(WithFirstWord(abi::Level::kControl, name, 0x100, scope), Optional(std::string(kGpu0))) << name;
    EXPECT_EQ(WithFirstWord(abi::Level::kControl, name, 0x101, scope), std::nullopt) << name;
    EXPECT_THAT(WithFirstWord(abi::Level::kControl, name, 0x7777, scope), Optional(std::string("gpuId 0x7777")))
        << name;
  }
}

TEST_F(GpuSelectionCheckTest, AttachAndDetachListsUpToTheInvalidId) {
  const GpuScope scope = OnlyGpu1();
  for (const char* name : {"NV0000_CTRL_CMD_GPU_ATTACH_IDS", "NV0000_CTRL_CMD_GPU_DETACH_IDS"}) {
    const abi::Entry& entry = Row(abi::Level::kControl, name);
    std::vector<std::uint32_t> ids(entry.param_size / 4, 0);
    ids[0] = 0x101;
    ids[1] = 0xffffffff;
    ids[2] = 0x100;  // past the end of the list
    auto bytes = [&] { return std::as_bytes(std::span(ids)); };
    EXPECT_EQ(GpuOutsideScope(entry, bytes(), scope), std::nullopt) << name;
    ids[1] = 0x100;
    EXPECT_THAT(GpuOutsideScope(entry, bytes(), scope), Optional(std::string(kGpu0))) << name;
    ids[0] = 0x0000ffff;  // every probed (attached) GPU
    EXPECT_THAT(GpuOutsideScope(entry, bytes(), scope), Optional(std::string("every GPU"))) << name;
  }
}

TEST_F(GpuSelectionCheckTest, AttachGpusToFdSkipsZeroes) {
  const GpuScope scope = OnlyGpu1();
  const abi::Entry& entry = Row(abi::Level::kFrontend, "NV_ESC_ATTACH_GPUS_TO_FD");
  std::vector<std::uint32_t> ids = {0, 0x101, 0};
  EXPECT_EQ(GpuOutsideScope(entry, std::as_bytes(std::span(ids)), scope), std::nullopt);
  ids.push_back(0x100);
  EXPECT_THAT(GpuOutsideScope(entry, std::as_bytes(std::span(ids)), scope), Optional(std::string(kGpu0)));
}

TEST_F(GpuSelectionCheckTest, UvmCallsNameTheGpuByUuid) {
  const GpuScope scope = OnlyGpu1();
  for (const char* name : {"UVM_REGISTER_GPU", "UVM_REGISTER_GPU_VASPACE"}) {
    const abi::Entry& entry = Row(abi::Level::kUvm, name);
    std::vector<std::byte> params(entry.param_size);
    const std::uint8_t uuid[16] = {0x6e, 0x76, 0x67, 0x61, 0x74, 0x65, 0x2d, 0x73, 0x69, 0x6d, 0, 0, 0, 0, 0, 0};
    std::memcpy(params.data(), uuid, sizeof uuid);
    EXPECT_THAT(GpuOutsideScope(entry, params, scope), Optional(std::string(kGpu0))) << name;
    params[15] = std::byte{1};
    EXPECT_EQ(GpuOutsideScope(entry, params, scope), std::nullopt) << name;
    params[15] = std::byte{9};
    EXPECT_THAT(GpuOutsideScope(entry, params, scope),
                Optional(std::string("GPU-6e766761-7465-2d73-696d-000000000009")))
        << name;
  }
}

TEST_F(GpuSelectionCheckTest, DeviceAllocationByInstance) {
  const GpuScope scope = OnlyGpu1();
  EXPECT_THAT(WithFirstWord(abi::Level::kAlloc, "NV01_DEVICE_0", 0, scope), Optional(std::string(kGpu0)));
  EXPECT_EQ(WithFirstWord(abi::Level::kAlloc, "NV01_DEVICE_0", 1, scope), std::nullopt);
  // An instance no GPU has is the driver's to refuse.
  EXPECT_EQ(WithFirstWord(abi::Level::kAlloc, "NV01_DEVICE_0", 5, scope), std::nullopt);
  // Where the backend cannot tell instances (the host), the driver's own
  // open-file check decides.
  GpuScope host = scope;
  for (gpus::Gpu& gpu : host.machine) gpu.device_instance = -1;
  EXPECT_EQ(WithFirstWord(abi::Level::kAlloc, "NV01_DEVICE_0", 0, host), std::nullopt);
}

TEST_F(GpuSelectionCheckTest, AnUnrestrictedSelectionAndOtherCallsNameNothing) {
  const GpuScope every{.selection = gpus::Selection::All(TwoGpus()), .machine = TwoGpus()};
  EXPECT_EQ(WithFirstWord(abi::Level::kAlloc, "NV01_DEVICE_0", 0, every), std::nullopt);
  EXPECT_EQ(WithFirstWord(abi::Level::kControl, "NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2", 0x100, every), std::nullopt);
  EXPECT_EQ(WithFirstWord(abi::Level::kControl, "NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS", 0x100, OnlyGpu1()),
            std::nullopt);
  // A copy shorter than the field names nothing (the driver refuses its size).
  const abi::Entry& v2 = Row(abi::Level::kControl, "NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2");
  EXPECT_EQ(GpuOutsideScope(v2, {}, OnlyGpu1()), std::nullopt);
}

}  // namespace
}  // namespace nvgate::proxy
