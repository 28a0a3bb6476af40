// The GPU file gate: while a call holds a GPU file, a GPU-checked call waits;
// while a GPU-checked call runs, no other call takes a file.
#include "proxy/gpu_file_gate.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace nvgate::proxy {
namespace {

// The pause gives a broken gate time to let the other thread through; a
// sound gate makes the order certain whatever the pause.
void Pause() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

TEST(GpuFileGate, AGpuCheckedCallWaitsForCallsHoldingGpuFiles) {
  GpuFileGate& gate = GpuFileGate::OfThisProcess();
  std::atomic<bool> holding{false}, released{false};
  std::thread other_call([&] {
    GpuFileHold hold(gate);
    hold.Share();
    holding = true;
    Pause();
    released = true;
  });
  while (!holding) std::this_thread::yield();
  GpuFileHold checked(gate);
  checked.Exclude();
  EXPECT_TRUE(released) << "the GPU-checked call ran while another call held a GPU file";
  checked.Release();
  other_call.join();
}

TEST(GpuFileGate, NoFileIsTakenWhileAGpuCheckedCallRuns) {
  GpuFileGate& gate = GpuFileGate::OfThisProcess();
  std::atomic<bool> excluding{false}, done{false};
  std::thread checked_call([&] {
    GpuFileHold hold(gate);
    hold.Exclude();
    excluding = true;
    Pause();
    done = true;
  });
  while (!excluding) std::this_thread::yield();
  GpuFileHold other(gate);
  other.Share();
  EXPECT_TRUE(done) << "a file was taken while a GPU-checked call ran";
  other.Release();
  checked_call.join();
}

TEST(GpuFileGate, ACallHoldingAGpuFileOfItsOwnMayBecomeGpuChecked) {
  GpuFileGate& gate = GpuFileGate::OfThisProcess();
  GpuFileHold hold(gate);
  hold.Share();
  hold.Exclude();  // gives up its shared hold first: no deadlock on itself
  EXPECT_TRUE(hold.exclusive());
  hold.Release();
  GpuFileHold next(gate);
  next.Exclude();
  EXPECT_TRUE(next.exclusive()) << "released";
}

}  // namespace
}  // namespace nvgate::proxy
