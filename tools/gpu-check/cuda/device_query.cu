// The driver and runtime versions and the first device's properties.
#include "check.h"

static const char* kProgram = "device_query";

int main() {
  int driver = 0, runtime = 0, count = 0;
  CHECK(cudaDriverGetVersion(&driver));
  CHECK(cudaRuntimeGetVersion(&runtime));
  CHECK(cudaGetDeviceCount(&count));
  if (count < 1) FAIL("no CUDA device");
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  size_t free_bytes = 0, total_bytes = 0;
  CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  std::printf("RESULT %s ok devices=%d name=\"%s\" cc=%d.%d sms=%d mem_gib=%.1f free_gib=%.1f driver=%d runtime=%d\n",
              kProgram, count, prop.name, prop.major, prop.minor, prop.multiProcessorCount,
              total_bytes / 1073741824.0, free_bytes / 1073741824.0, driver, runtime);
  return 0;
}
