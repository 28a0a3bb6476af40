// NVML through NVIDIA's own libnvidia-ml.so.1, loaded with dlopen so that the
// build needs neither the library nor its header: one line per step with the
// step's return code, and exit status 0 only when every step returned 0.
// Usage: nvml_client PATH/TO/libnvidia-ml.so.1
#include <stdio.h>
#include <string.h>

#include "dl_library.h"

typedef int (*InitFn)(void);
typedef int (*CountFn)(unsigned int*);
typedef int (*HandleFn)(unsigned int, void**);
typedef int (*NameFn)(void*, char*, unsigned int);
typedef int (*UuidFn)(void*, char*, unsigned int);
typedef int (*MemoryFn)(void*, void*);
typedef const char* (*ErrorStringFn)(int);

// nvmlMemory_t of nvml.h: total, free, used bytes.
struct Memory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

static ErrorStringFn error_string;

static int Report(const char* step, int rc, const char* detail) {
  printf("nvml %s rc=%d (%s)%s%s\n", step, rc, error_string ? error_string(rc) : "?", detail[0] ? " " : "",
         detail);
  fflush(stdout);
  return rc;
}

#define LOAD(lib, fn, name) LoadSymbol("nvml", lib, name, &fn, sizeof fn)

int main(int argc, char** argv) {
  void* lib = OpenLibrary("nvml", argc, argv, "libnvidia-ml.so.1");
  if (lib == NULL) return 2;
  InitFn init = NULL;
  CountFn count = NULL;
  HandleFn handle = NULL;
  NameFn name = NULL;
  MemoryFn memory = NULL;
  UuidFn uuid = NULL;
  InitFn shutdown = NULL;
  if (!LOAD(lib, error_string, "nvmlErrorString") ||
      !LOAD(lib, init, "nvmlInit_v2") ||
      !LOAD(lib, count, "nvmlDeviceGetCount_v2") ||
      !LOAD(lib, handle, "nvmlDeviceGetHandleByIndex_v2") ||
      !LOAD(lib, name, "nvmlDeviceGetName") ||
      !LOAD(lib, memory, "nvmlDeviceGetMemoryInfo") ||
      !LOAD(lib, uuid, "nvmlDeviceGetUUID") ||
      !LOAD(lib, shutdown, "nvmlShutdown")) {
    return 2;
  }

  int failed = 0;
  char text[256] = "";
  if (Report("nvmlInit_v2", init(), "") != 0) return 1;
  unsigned int n = 0;
  int rc = count(&n);
  snprintf(text, sizeof text, "count=%u", n);
  failed |= Report("nvmlDeviceGetCount_v2", rc, rc == 0 ? text : "");
  if (rc == 0 && n > 0) {
    void* dev = NULL;
    rc = handle(0, &dev);
    failed |= Report("nvmlDeviceGetHandleByIndex_v2", rc, "");
    if (rc == 0) {
      char buf[96] = "";
      rc = name(dev, buf, sizeof buf);
      snprintf(text, sizeof text, "name=\"%s\"", buf);
      failed |= Report("nvmlDeviceGetName", rc, rc == 0 ? text : "");
      struct Memory mem;
      memset(&mem, 0, sizeof mem);
      rc = memory(dev, &mem);
      snprintf(text, sizeof text, "total=%llu free=%llu used=%llu", mem.total, mem.free, mem.used);
      failed |= Report("nvmlDeviceGetMemoryInfo", rc, rc == 0 ? text : "");
      rc = uuid(dev, buf, sizeof buf);
      snprintf(text, sizeof text, "uuid=%s", buf);
      failed |= Report("nvmlDeviceGetUUID", rc, rc == 0 ? text : "");
    }
  } else if (rc == 0) {
    failed = 1;
  }
  failed |= Report("nvmlShutdown", shutdown(), "");
  return failed ? 1 : 0;
}
