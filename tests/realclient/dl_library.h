// What both realclient programs do to reach a library they are not linked
// with: open it from the path on their command line, and copy its symbols into
// function pointers. `who` ("cuda", "nvml") starts each line they print.
#ifndef NVGATE_TESTS_REALCLIENT_DL_LIBRARY_H_
#define NVGATE_TESTS_REALCLIENT_DL_LIBRARY_H_

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

// The library named by argv[1], or NULL (usage or dlopen error printed).
static void* OpenLibrary(const char* who, int argc, char** argv, const char* library) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PATH/TO/%s\n", argv[0], library);
    return NULL;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) printf("%s dlopen failed: %s\n", who, dlerror());
  return lib;
}

// Stores symbol `name` of `lib` in the function pointer at `fn`. POSIX makes
// dlsym's result convertible to a function pointer; ISO C does not, hence the copy.
static int LoadSymbol(const char* who, void* lib, const char* name, void* fn, size_t size) {
  void* sym = dlsym(lib, name);
  if (sym == NULL || size != sizeof sym) {
    printf("%s dlsym %s failed: %s\n", who, name, dlerror());
    return 0;
  }
  memcpy(fn, &sym, size);
  return 1;
}

#endif  // NVGATE_TESTS_REALCLIENT_DL_LIBRARY_H_
