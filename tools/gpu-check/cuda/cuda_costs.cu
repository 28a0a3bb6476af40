// What common CUDA runtime operations cost, timed with wall clocks so that the
// same program run natively and under nvgate gives comparable numbers
// (scripts/gpu-check.sh, section "cost"): context creation, 1,000 allocations,
// 1,000 streams, and copy bandwidth both ways, pageable and pinned, at three
// sizes. A failing call does not end the program: its measurement is left out,
// the others are still taken, and the RESULT line says FAIL with each failed
// call and its error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <cuda_runtime.h>

namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Failed calls ("call: error"), for the RESULT line, and the measurements.
std::vector<std::string> failures;
std::string measurements;

// False, with the failure noted once per call site, when `error` is not success.
bool Succeeded(cudaError_t error, const char* call) {
  if (error == cudaSuccess) return true;
  std::string failure = std::string(call) + ": " + cudaGetErrorString(error);
  if (std::find(failures.begin(), failures.end(), failure) == failures.end()) {
    std::fprintf(stderr, "cuda_costs: %s\n", failure.c_str());
    failures.push_back(failure);
  }
  return false;
}

void Measured(const char* key, double value) {
  char text[96];
  std::snprintf(text, sizeof text, " %s=%.3f", key, value);
  measurements += text;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// GB/s of the median of `iterations` synchronous copies of `bytes`; negative
// when a copy failed.
double CopyBandwidth(void* to, const void* from, size_t bytes, cudaMemcpyKind kind, int iterations,
                     const char* call) {
  // One untimed copy first: the first touch of a buffer maps or pins it.
  if (!Succeeded(cudaMemcpy(to, from, bytes, kind), call)) return -1;
  std::vector<double> seconds;
  for (int i = 0; i < iterations; ++i) {
    Clock::time_point start = Clock::now();
    if (!Succeeded(cudaMemcpy(to, from, bytes, kind), call)) return -1;
    seconds.push_back(MillisecondsSince(start) / 1000.0);
  }
  return static_cast<double>(bytes) / Median(seconds) / 1e9;
}

struct CopySize {
  const char* name;
  size_t bytes;
  int iterations;
};

// Both directions at every size between `host` (pageable or pinned, named
// `memory`) and `device`.
void MeasureCopies(const char* memory, unsigned char* host, unsigned char* device) {
  const CopySize sizes[] = {{"4k", size_t{4} << 10, 201}, {"1m", size_t{1} << 20, 51}, {"256m", size_t{256} << 20, 5}};
  for (const CopySize& size : sizes) {
    std::string h2d_call = std::string("cudaMemcpy(h2d ") + memory + " " + size.name + ")";
    std::string d2h_call = std::string("cudaMemcpy(d2h ") + memory + " " + size.name + ")";
    double h2d = CopyBandwidth(device, host, size.bytes, cudaMemcpyHostToDevice, size.iterations, h2d_call.c_str());
    double d2h = CopyBandwidth(host, device, size.bytes, cudaMemcpyDeviceToHost, size.iterations, d2h_call.c_str());
    std::string h2d_key = std::string("h2d_") + memory + "_" + size.name + "_gbs";
    std::string d2h_key = std::string("d2h_") + memory + "_" + size.name + "_gbs";
    if (h2d >= 0) Measured(h2d_key.c_str(), h2d);
    if (d2h >= 0) Measured(d2h_key.c_str(), d2h);
  }
}

}  // namespace

int main() {
  Clock::time_point process_start = Clock::now();
  // The first runtime call creates the primary context: driver open, RM
  // clients, device memory set-up, module loading.
  if (!Succeeded(cudaFree(nullptr), "cudaFree(0)")) {
    std::printf("RESULT cuda_costs FAIL %s\n", failures.front().c_str());
    return 1;
  }
  Measured("ctx_ms", MillisecondsSince(process_start));

  const int kTimes = 1000;
  Clock::time_point start = Clock::now();
  bool all_allocated = true;
  for (int i = 0; i < kTimes && all_allocated; ++i) {
    void* buffer = nullptr;
    all_allocated = Succeeded(cudaMalloc(&buffer, size_t{1} << 20), "cudaMalloc(1 MiB)") &&
                    Succeeded(cudaFree(buffer), "cudaFree(1 MiB)");
  }
  if (all_allocated) Measured("malloc1k_ms", MillisecondsSince(start));

  start = Clock::now();
  bool all_created = true;
  for (int i = 0; i < kTimes && all_created; ++i) {
    cudaStream_t stream = nullptr;
    all_created = Succeeded(cudaStreamCreate(&stream), "cudaStreamCreate") &&
                  Succeeded(cudaStreamDestroy(stream), "cudaStreamDestroy");
  }
  if (all_created) Measured("stream1k_ms", MillisecondsSince(start));

  const size_t largest = size_t{256} << 20;
  unsigned char* device = nullptr;
  if (Succeeded(cudaMalloc(&device, largest), "cudaMalloc(256 MiB)")) {
    std::vector<unsigned char> pageable(largest, 0x5a);
    MeasureCopies("pageable", pageable.data(), device);
    unsigned char* pinned = nullptr;
    if (Succeeded(cudaMallocHost(&pinned, largest), "cudaMallocHost(256 MiB)")) {
      std::memset(pinned, 0xa5, largest);
      MeasureCopies("pinned", pinned, device);
      Succeeded(cudaFreeHost(pinned), "cudaFreeHost");
    }
    Succeeded(cudaFree(device), "cudaFree(256 MiB)");
  }

  if (failures.empty()) {
    std::printf("RESULT cuda_costs ok%s\n", measurements.c_str());
    return 0;
  }
  std::string failed;
  for (const std::string& failure : failures) failed += (failed.empty() ? "" : "; ") + failure;
  std::printf("RESULT cuda_costs FAIL %s;%s\n", failed.c_str(), measurements.c_str());
  return 1;
}
