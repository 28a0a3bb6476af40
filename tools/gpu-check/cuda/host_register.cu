// cudaHostRegister on ordinary memory: a kernel writes it through its device
// pointer, the host reads the result in place.
#include <cstdlib>

#include "check.h"

static const char* kProgram = "host_register";

int main() {
  const size_t n = size_t{1} << 22;
  const size_t bytes = n * sizeof(float);
  void* raw = std::aligned_alloc(4096, bytes);
  if (raw == nullptr) FAIL("aligned_alloc of %zu bytes", bytes);
  auto* host = static_cast<float*>(raw);
  for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i % 100);
  CHECK(cudaHostRegister(host, bytes, cudaHostRegisterMapped));
  float* device = nullptr;
  CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&device), host, 0));
  AddScalar<<<BlocksFor(n, 256), 256>>>(device, n, 1.0f);
  CHECK_LAUNCH();
  for (size_t i = 0; i < n; ++i) {
    if (host[i] != static_cast<float>(i % 100) + 1.0f) FAIL("host[%zu] = %f after the kernel", i, host[i]);
  }
  CHECK(cudaHostUnregister(host));
  std::free(raw);
  std::printf("RESULT %s ok n=%zu\n", kProgram, n);
  return 0;
}
