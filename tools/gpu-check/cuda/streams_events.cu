// Four streams each copy in, run a kernel and copy out their own slice of
// pinned memory; the last stream waits on an event of the first; events time
// the whole.
#include "check.h"

static const char* kProgram = "streams_events";

int main() {
  const int streams = 4;
  const size_t slice = size_t{1} << 22;
  const size_t n = slice * streams;
  float* host = nullptr;
  float* device = nullptr;
  CHECK(cudaMallocHost(&host, n * sizeof(float)));
  CHECK(cudaMalloc(&device, n * sizeof(float)));
  for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i % 10);

  cudaStream_t stream[streams];
  cudaEvent_t done[streams];
  for (int s = 0; s < streams; ++s) {
    CHECK(cudaStreamCreateWithFlags(&stream[s], cudaStreamNonBlocking));
    CHECK(cudaEventCreateWithFlags(&done[s], cudaEventDisableTiming));
  }
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  CHECK(cudaEventRecord(start, stream[0]));
  for (int s = 0; s < streams; ++s) {
    if (s == streams - 1) CHECK(cudaStreamWaitEvent(stream[s], done[0], 0));
    float* h = host + s * slice;
    float* d = device + s * slice;
    CHECK(cudaMemcpyAsync(d, h, slice * sizeof(float), cudaMemcpyHostToDevice, stream[s]));
    AddScalar<<<BlocksFor(slice, 256), 256, 0, stream[s]>>>(d, slice, static_cast<float>(s + 1));
    CHECK(cudaGetLastError());
    CHECK(cudaMemcpyAsync(h, d, slice * sizeof(float), cudaMemcpyDeviceToHost, stream[s]));
    CHECK(cudaEventRecord(done[s], stream[s]));
  }
  for (int s = 1; s < streams; ++s) CHECK(cudaStreamWaitEvent(stream[0], done[s], 0));
  CHECK(cudaEventRecord(stop, stream[0]));
  CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  for (int s = 0; s < streams; ++s) CHECK(cudaEventQuery(done[s]));
  for (size_t i = 0; i < n; ++i) {
    float expected = static_cast<float>(i % 10) + static_cast<float>(i / slice + 1);
    if (host[i] != expected) FAIL("host[%zu] = %f, expected %f", i, host[i], expected);
  }
  for (int s = 0; s < streams; ++s) {
    CHECK(cudaEventDestroy(done[s]));
    CHECK(cudaStreamDestroy(stream[s]));
  }
  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
  CHECK(cudaFree(device));
  CHECK(cudaFreeHost(host));
  std::printf("RESULT %s ok streams=%d ms=%.3f\n", kProgram, streams, ms);
  return 0;
}
