// Two host threads, each with its own stream and buffers, run kernels at once.
#include <atomic>
#include <thread>
#include <vector>

#include "check.h"

static const char* kProgram = "two_threads";

static void Work(int id, std::atomic<int>& failures) {
  const size_t n = size_t{1} << 22;
  std::vector<float> host(n, static_cast<float>(id));
  cudaStream_t stream;
  float* device = nullptr;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CHECK(cudaMallocAsync(&device, n * sizeof(float), stream));
  CHECK(cudaMemcpyAsync(device, host.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream));
  for (int k = 0; k < 10; ++k) {
    AddScalar<<<BlocksFor(n, 256), 256, 0, stream>>>(device, n, 1.0f);
    CHECK(cudaGetLastError());
  }
  CHECK(cudaMemcpyAsync(host.data(), device, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CHECK(cudaFreeAsync(device, stream));
  CHECK(cudaStreamSynchronize(stream));
  CHECK(cudaStreamDestroy(stream));
  for (size_t i = 0; i < n; ++i) {
    if (host[i] != static_cast<float>(id + 10)) {
      failures.fetch_add(1);
      return;
    }
  }
}

int main() {
  CHECK(cudaSetDevice(0));
  std::atomic<int> failures{0};
  std::thread a(Work, 1, std::ref(failures));
  std::thread b(Work, 2, std::ref(failures));
  a.join();
  b.join();
  if (failures.load() != 0) FAIL("%d thread(s) read back wrong data", failures.load());
  std::printf("RESULT %s ok threads=2\n", kProgram);
  return 0;
}
