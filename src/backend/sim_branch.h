// The simulated driver's model is written against 580's structs
// (abi/nv_structs.h). The sim can be any supported version (--sim-driver): the
// supervisor then decides and copies every call with that version's table, and
// the sim answers in that version's layout. Of the structs the sim reads, those
// listed in abi/facts_test.cc's kOnlyTheSimulatedDriverReads differ between
// branches, and in each case only in the length of one array (GPU_MAX_* and
// UVM_MAX_GPUS grew between 535 and 580) or in fields added at the end:
//
//   NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS    535/550: 256 bytes, 580: 384 (gpuFlags added)
//   NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS  classList[160 / 174 / 200]
//   NV2080_CTRL_FB_GET_INFO_V2_PARAMS        fbInfoList[54 / 55 / 128]
//   NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS    engineList[62 / 64 / 84]
//   NV2080_CTRL_GPU_GET_INFO_V2_PARAMS       gpuInfoList[64 / 65 / 70]
//   NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS       2 / 2 / 3 bytes (a field added)
//   NV0080_CTRL_GPU_GET_VIRTUALIZATION_MODE_PARAMS  4 / 8 / 8 (isGridBuild added)
//   NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO_PARAMS  40 / 48 / 56 (clique id
//       and health fields added)
//   UVM_ALLOC_SEMAPHORE_POOL_PARAMS and UVM_MAP_EXTERNAL_ALLOCATION_PARAMS:
//       perGpuAttributes[32] in 535 (UVM_MAX_GPUS), 256 from 550 on, then the
//       count and rmStatus after the array
//
// (sizes from src/abi/facts/{535.261.03,550.163.01,580.142}.facts). So a
// branch's parameters are converted to and from 580's layout around the
// model's code: the head, the array (as much as both hold) and the tail, each
// copied to its place. The sim answers no more entries than the branch's array
// holds (its lists are short), and an answer past it would not be copied back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/abi.h"

namespace nvgate::backend {

// Where a 580 struct's one variable part is: [array_offset, tail_offset).
struct ArrayShape {
  std::size_t own_size;      // sizeof the 580 struct
  std::size_t array_offset;  // the array's start (0: the whole head is "the array")
  std::size_t tail_offset;   // what follows the array, to the end
};

// The branch's parameters, seen in the sim's own (580) layout for as long as
// this lives; written back in the branch's layout when it goes.
class OwnLayout {
 public:
  OwnLayout(void* branch_params, std::size_t branch_size, const ArrayShape& shape);
  ~OwnLayout();
  OwnLayout(const OwnLayout&) = delete;
  OwnLayout& operator=(const OwnLayout&) = delete;

  void* data() { return own_.data(); }
  std::uint32_t size() const { return static_cast<std::uint32_t>(own_.size()); }

 private:
  void Copy(bool to_own);

  std::byte* branch_;
  std::size_t branch_size_;
  ArrayShape shape_;
  std::vector<std::byte> own_;
};

class SimBranch {
 public:
  // `version` must have a table (MakeSimBackend checks).
  explicit SimBranch(const std::string& version);

  // The control's parameters in 580's layout, where the branch's differ and
  // `size` is the branch's. Any other size is left to the model's own checks,
  // which take 580's: the proxy has already refused every size but the
  // branch's table's.
  std::unique_ptr<OwnLayout> Control(std::uint32_t cmd, void* params, std::uint32_t size) const;
  // The same for a UVM command, whose size only the table knows.
  std::unique_ptr<OwnLayout> Uvm(std::uint32_t request, void* params) const;

 private:
  const abi::Table* table_;
};

}  // namespace nvgate::backend
