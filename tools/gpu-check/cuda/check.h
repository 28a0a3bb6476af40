// Shared by the GPU check's CUDA programs (scripts/gpu-check.sh): every
// runtime call is checked, and each program prints one line
//   RESULT <program> ok|FAIL <details>
// on stdout, which the check script copies into its report.
#pragma once

#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#define CHECK(call)                                                                          \
  do {                                                                                       \
    cudaError_t check_error_ = (call);                                                       \
    if (check_error_ != cudaSuccess) {                                                       \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                     \
                   cudaGetErrorString(check_error_));                                        \
      std::printf("RESULT %s FAIL %s at %s\n", kProgram, cudaGetErrorName(check_error_), #call); \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)

// A kernel launch: the launch's own error, then the kernel's.
#define CHECK_LAUNCH()                   \
  do {                                   \
    CHECK(cudaGetLastError());           \
    CHECK(cudaDeviceSynchronize());      \
  } while (0)

#define FAIL(...)                                     \
  do {                                                \
    std::printf("RESULT %s FAIL ", kProgram);         \
    std::printf(__VA_ARGS__);                         \
    std::printf("\n");                                \
    std::exit(1);                                     \
  } while (0)

// Adds `value` to each of `n` floats.
static __global__ void AddScalar(float* data, size_t n, float value) {
  size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i < n) data[i] += value;
}

static inline unsigned BlocksFor(size_t n, unsigned threads) { return static_cast<unsigned>((n + threads - 1) / threads); }
