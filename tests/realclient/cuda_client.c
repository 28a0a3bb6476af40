// CUDA's driver API through NVIDIA's own libcuda.so.1, loaded with dlopen so
// that the build needs neither the library nor its header: one line per step
// with the step's CUresult, stopping at the first step that fails, since each
// needs the one before. Exit status 0 only when every step returned 0.
// Usage: cuda_client PATH/TO/libcuda.so.1
#include <stdio.h>
#include <string.h>

#include "dl_library.h"

typedef int (*InitFn)(unsigned int);
typedef int (*CountFn)(int*);
typedef int (*DeviceFn)(int*, int);
typedef int (*NameFn)(char*, int, int);
typedef int (*TotalMemFn)(size_t*, int);
typedef int (*CtxCreateFn)(void**, unsigned int, int);
typedef int (*CtxDestroyFn)(void*);
typedef int (*MemAllocFn)(unsigned long long*, size_t);
typedef int (*MemFreeFn)(unsigned long long);
typedef int (*ErrorNameFn)(int, const char**);

static ErrorNameFn error_name;

static int Report(const char* step, int rc, const char* detail) {
  const char* text = "?";
  if (error_name) error_name(rc, &text);
  printf("cuda %s rc=%d (%s)%s%s\n", step, rc, text ? text : "?", detail[0] ? " " : "", detail);
  fflush(stdout);
  return rc;
}

#define LOAD(lib, fn, name) LoadSymbol("cuda", lib, name, &fn, sizeof fn)

int main(int argc, char** argv) {
  void* lib = OpenLibrary("cuda", argc, argv, "libcuda.so.1");
  if (lib == NULL) return 2;
  InitFn init = NULL;
  CountFn count = NULL;
  DeviceFn device = NULL;
  NameFn name = NULL;
  TotalMemFn total_mem = NULL;
  CtxCreateFn ctx_create = NULL;
  MemAllocFn mem_alloc = NULL;
  MemFreeFn mem_free = NULL;
  CtxDestroyFn ctx_destroy = NULL;
  if (!LOAD(lib, error_name, "cuGetErrorName") ||
      !LOAD(lib, init, "cuInit") ||
      !LOAD(lib, count, "cuDeviceGetCount") ||
      !LOAD(lib, device, "cuDeviceGet") ||
      !LOAD(lib, name, "cuDeviceGetName") ||
      !LOAD(lib, total_mem, "cuDeviceTotalMem_v2") ||
      !LOAD(lib, ctx_create, "cuCtxCreate_v2") ||
      !LOAD(lib, mem_alloc, "cuMemAlloc_v2") ||
      !LOAD(lib, mem_free, "cuMemFree_v2") ||
      !LOAD(lib, ctx_destroy, "cuCtxDestroy_v2")) {
    return 2;
  }

  char text[160] = "";
  if (Report("cuInit", init(0), "") != 0) return 1;
  int n = 0;
  int rc = count(&n);
  snprintf(text, sizeof text, "count=%d", n);
  if (Report("cuDeviceGetCount", rc, rc == 0 ? text : "") != 0 || n < 1) return 1;
  int dev = -1;
  if (Report("cuDeviceGet", device(&dev, 0), "") != 0) return 1;
  char buf[96] = "";
  rc = name(buf, sizeof buf, dev);
  snprintf(text, sizeof text, "name=\"%s\"", buf);
  if (Report("cuDeviceGetName", rc, rc == 0 ? text : "") != 0) return 1;
  size_t bytes = 0;
  rc = total_mem(&bytes, dev);
  snprintf(text, sizeof text, "bytes=%zu", bytes);
  if (Report("cuDeviceTotalMem", rc, rc == 0 ? text : "") != 0) return 1;
  void* ctx = NULL;
  if (Report("cuCtxCreate", ctx_create(&ctx, 0, dev), "") != 0) return 1;
  unsigned long long ptr = 0;
  if (Report("cuMemAlloc", mem_alloc(&ptr, 1 << 20), "") != 0) return 1;
  if (Report("cuMemFree", mem_free(ptr), "") != 0) return 1;
  if (Report("cuCtxDestroy", ctx_destroy(ctx), "") != 0) return 1;
  return 0;
}
