// A parent uses the GPU, starts a child process (a fresh exec of this
// program) that uses the GPU in turn, waits for it, and uses the GPU again.
#include <spawn.h>
#include <sys/wait.h>

#include <string_view>

#include "check.h"

extern char** environ;

static const char* kProgram = "child_process";

// One kernel on 1M floats, checked; returns whether it computed right.
static bool UseGpu(float value) {
  const size_t n = size_t{1} << 20;
  float* data = nullptr;
  CHECK(cudaMalloc(&data, n * sizeof(float)));
  CHECK(cudaMemset(data, 0, n * sizeof(float)));
  AddScalar<<<BlocksFor(n, 256), 256>>>(data, n, value);
  CHECK_LAUNCH();
  float last = 0;
  CHECK(cudaMemcpy(&last, data + n - 1, sizeof(float), cudaMemcpyDeviceToHost));
  CHECK(cudaFree(data));
  return last == value;
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--child") return UseGpu(2.0f) ? 0 : 1;
  if (!UseGpu(1.0f)) FAIL("the parent's kernel computed wrong");
  char child_flag[] = "--child";
  char* child_argv[] = {argv[0], child_flag, nullptr};
  pid_t child = 0;
  if (int e = posix_spawn(&child, argv[0], nullptr, nullptr, child_argv, environ); e != 0) {
    FAIL("posix_spawn: error %d", e);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) FAIL("waitpid failed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAIL("the child's GPU use failed (wait status %d)", status);
  if (!UseGpu(3.0f)) FAIL("the parent's kernel after the child computed wrong");
  std::printf("RESULT %s ok\n", kProgram);
  return 0;
}
