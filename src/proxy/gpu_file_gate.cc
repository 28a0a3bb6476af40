#include "proxy/gpu_file_gate.h"

#include "defences/defences.h"

namespace nvgate::proxy {

using defences::Defence;

GpuFileGate& GpuFileGate::OfThisProcess() {
  static GpuFileGate gate;
  return gate;
}

GpuFileGate::GpuFileGate() {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&lock_, &attr);
  pthread_rwlockattr_destroy(&attr);
}

void GpuFileGate::LockShared() { pthread_rwlock_rdlock(&lock_); }
void GpuFileGate::UnlockShared() { pthread_rwlock_unlock(&lock_); }
void GpuFileGate::Lock() { pthread_rwlock_wrlock(&lock_); }
void GpuFileGate::Unlock() { pthread_rwlock_unlock(&lock_); }

void GpuFileHold::Share() {
  if (state_ != kNone || !defences::Kept(Defence::kGpuFileGate)) return;
  gate_->LockShared();
  state_ = kShared;
}

void GpuFileHold::Exclude() {
  if (state_ == kExclusive || !defences::Kept(Defence::kGpuFileGate)) return;
  if (state_ == kShared) gate_->UnlockShared();
  gate_->Lock();
  state_ = kExclusive;
}

void GpuFileHold::Release() {
  if (state_ == kShared) gate_->UnlockShared();
  if (state_ == kExclusive) gate_->Unlock();
  state_ = kNone;
}

}  // namespace nvgate::proxy
