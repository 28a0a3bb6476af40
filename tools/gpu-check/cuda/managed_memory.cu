// cudaMallocManaged (64 MiB, far below any GPU's memory): written by the
// host, then a kernel, then read by the host.
#include "check.h"

static const char* kProgram = "managed_memory";

int main() {
  const size_t n = size_t{16} << 20;
  float* data = nullptr;
  CHECK(cudaMallocManaged(&data, n * sizeof(float)));
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>(i % 50);
  AddScalar<<<BlocksFor(n, 256), 256>>>(data, n, 2.0f);
  CHECK_LAUNCH();
  for (size_t i = 0; i < n; ++i) {
    if (data[i] != static_cast<float>(i % 50) + 2.0f) FAIL("data[%zu] = %f after the kernel", i, data[i]);
  }
  CHECK(cudaFree(data));
  std::printf("RESULT %s ok n=%zu\n", kProgram, n);
  return 0;
}
