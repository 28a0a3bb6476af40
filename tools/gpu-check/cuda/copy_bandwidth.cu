// Host-to-device and device-to-host copies of 256 MiB from pageable (malloc)
// and pinned (cudaMallocHost) memory, timed with events, data checked.
#include <cstring>
#include <vector>

#include "check.h"

static const char* kProgram = "copy_bandwidth";

// GB/s of `repeats` copies of `bytes` each way; checks what came back.
static void Measure(unsigned char* host, unsigned char* device, size_t bytes, int repeats, double& h2d, double& d2h) {
  for (size_t i = 0; i < bytes; ++i) host[i] = static_cast<unsigned char>(i * 7 + 3);
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  float ms = 0;
  CHECK(cudaEventRecord(start));
  for (int r = 0; r < repeats; ++r) CHECK(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice));
  CHECK(cudaEventRecord(stop));
  CHECK(cudaEventSynchronize(stop));
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  h2d = static_cast<double>(bytes) * repeats / (ms / 1000.0) / 1e9;
  std::memset(host, 0, bytes);
  CHECK(cudaEventRecord(start));
  for (int r = 0; r < repeats; ++r) CHECK(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost));
  CHECK(cudaEventRecord(stop));
  CHECK(cudaEventSynchronize(stop));
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  d2h = static_cast<double>(bytes) * repeats / (ms / 1000.0) / 1e9;
  for (size_t i = 0; i < bytes; ++i) {
    if (host[i] != static_cast<unsigned char>(i * 7 + 3)) FAIL("byte %zu differs after the round trip", i);
  }
  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
}

int main() {
  const size_t bytes = size_t{256} << 20;
  const int repeats = 4;
  unsigned char* device = nullptr;
  CHECK(cudaMalloc(&device, bytes));
  std::vector<unsigned char> pageable(bytes);
  double pageable_h2d = 0, pageable_d2h = 0, pinned_h2d = 0, pinned_d2h = 0;
  Measure(pageable.data(), device, bytes, repeats, pageable_h2d, pageable_d2h);
  unsigned char* pinned = nullptr;
  CHECK(cudaMallocHost(&pinned, bytes));
  Measure(pinned, device, bytes, repeats, pinned_h2d, pinned_d2h);
  CHECK(cudaFreeHost(pinned));
  CHECK(cudaFree(device));
  std::printf("RESULT %s ok pageable_h2d_gbs=%.1f pageable_d2h_gbs=%.1f pinned_h2d_gbs=%.1f pinned_d2h_gbs=%.1f\n",
              kProgram, pageable_h2d, pageable_d2h, pinned_h2d, pinned_d2h);
  return 0;
}
