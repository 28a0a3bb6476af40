// Keeps other workloads' GPU files out of the supervisor's fd table while the
// driver looks at it.
//
// The driver allows a device allocation and UVM_REGISTER_GPU only when the
// *calling process* holds an open /dev/nvidia# of that GPU (osIsGpuAccessible,
// src/nvidia/src/kernel/gpu/device.c:140-149 and rmapi/nv_gpu_ops.c:7570-7573
// in the driver, walking current->files in kernel-open/nvidia/nv.c:5785). The
// caller is the supervisor, one process for every workload it serves, and its
// fd table holds whatever duplicates its threads are using at that moment.
//
// So the supervisor's threads take this gate:
//   - shared, from before they duplicate any workload file until they have
//     closed every duplicate of a GPU file (calls on other files drop it as
//     soon as they know the file is no GPU's);
//   - exclusive, for a call the driver checks against its caller's GPU files,
//     while it holds duplicates of exactly the calling workload's own GPU files.
// While one thread holds it exclusively, no other thread holds any GPU file.
//
// Writers are preferred (a steady stream of calls on GPU files must not starve
// a device allocation). One gate per process: the fd table is per process.
#pragma once

#include <pthread.h>

namespace nvgate::proxy {

class GpuFileGate {
 public:
  static GpuFileGate& OfThisProcess();

  GpuFileGate(const GpuFileGate&) = delete;
  GpuFileGate& operator=(const GpuFileGate&) = delete;

  void LockShared();
  void UnlockShared();
  void Lock();
  void Unlock();

 private:
  GpuFileGate();
  pthread_rwlock_t lock_;
};

// One call's hold on the gate: none, shared or exclusive, released when the
// call is done (or on destruction). Not thread-safe: one per call.
class GpuFileHold {
 public:
  explicit GpuFileHold(GpuFileGate& gate) : gate_(&gate) {}
  GpuFileHold(GpuFileHold&& other) noexcept : gate_(other.gate_), state_(other.state_) { other.state_ = kNone; }
  GpuFileHold& operator=(GpuFileHold&&) = delete;
  GpuFileHold(const GpuFileHold&) = delete;
  GpuFileHold& operator=(const GpuFileHold&) = delete;
  ~GpuFileHold() { Release(); }

  // Before duplicating a workload file: at least shared.
  void Share();
  // For a call checked against its caller's GPU files. A shared hold is given
  // up first (the gate is not upgradable); the GPU files this call already
  // holds are the workload's own.
  void Exclude();
  void Release();
  bool exclusive() const { return state_ == kExclusive; }

 private:
  enum State { kNone, kShared, kExclusive };
  GpuFileGate* gate_;
  State state_ = kNone;
};

}  // namespace nvgate::proxy
