// nvgate trace --observe-only: records a trusted workload's NVIDIA calls and
// lets the kernel execute them itself (SECCOMP_USER_NOTIF_FLAG_CONTINUE), so
// that a trace shows what the workload really asks of the driver even where
// nvgate's own execution of a call fails. It protects nothing: every call runs
// natively, whatever the capabilities say.
//
// Each call is decoded as the proxy decodes it (request, then a control's cmd,
// an alloc's class, ...) and decided under the requested capabilities; the
// trace's decision says what `nvgate run` would decide, not what happened.
// The kernel's answer is not seen: the record has no driver return, and its
// return and errno are 0.
//
// Backends without a native driver (sim, replay serve plain files, on which
// the kernel would answer ENOTTY) are given `fallback`, an executor that
// answers each recorded call instead: the proxy under every capability. Its
// answer is recorded.
#pragma once

#include "abi/abi.h"
#include "caps/caps.h"
#include "proxy/call_record.h"
#include "proxy/proxy.h"

namespace nvgate::trace {

class ObserveOnlyExecutor final : public proxy::Executor {
 public:
  // `observer` receives every call; `fallback` is nullptr where the kernel runs
  // the calls (the host backend). Both must outlive the calls.
  ObserveOnlyExecutor(const abi::Table& table, caps::CapSet decided_under, proxy::CallObserver& observer,
                      proxy::Executor* fallback)
      : table_(table), decided_under_(decided_under), observer_(observer), fallback_(fallback) {}

  proxy::Reply Execute(const proxy::Call& call, proxy::TargetMemory& memory, proxy::TargetFiles& files) override;

 private:
  // Fills the request fields and the innermost decision of `record`, reading
  // the parameters through `memory`.
  void Decode(const proxy::Call& call, proxy::TargetMemory& memory, proxy::CallRecord& record) const;

  const abi::Table& table_;
  const caps::CapSet decided_under_;
  proxy::CallObserver& observer_;
  proxy::Executor* const fallback_;
};

}  // namespace nvgate::trace
