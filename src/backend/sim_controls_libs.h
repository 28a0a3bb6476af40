// The simulated driver's answers to the controls NVIDIA's own libraries make
// (libnvidia-ml's nvmlInit and device queries, libcuda's cuInit), beyond those
// of sim_driver.cc, which nvgate's own workloads make. Each models the 580.142
// driver source cited at it; where the source passes on what the hardware or
// the GSP firmware reports (PCIe link registers, BAR sizes, the graphics
// engine's floorsweeping, copy engine caps), the value is the H200's of run 2
// (docs/gpu-validation.md), and says so. None answers a value chosen only to
// let a library through.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "abi/nv_structs.h"

namespace nvgate::backend {

// What the answers need to know of the simulated system.
struct SimSystem {
  int gpu_count;
  std::string_view version;  // what GET_BUILD_VERSION_V2 answers (sim_driver.cc)
  std::string_view title;
};

// The answer to control `p` on an object of `object_class` (of GPU `gpu`, -1
// for none), its parameters at `params` (p.paramsSize bytes, in 580's layout);
// nullopt for a command modelled elsewhere or not at all.
std::optional<nv::NvV32> LibraryControl(const SimSystem& system, nv::NvV32 object_class, int gpu,
                                        const nv::NVOS54_PARAMETERS& p, void* params);

}  // namespace nvgate::backend
