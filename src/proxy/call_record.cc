#include "proxy/call_record.h"

#include <cstddef>
#include <cstring>

#include "abi/nv_structs.h"
#include "proxy/recording_memory.h"

namespace nvgate::proxy {

std::optional<std::uint32_t> StatusOffset(const abi::Entry& request_entry, std::uint32_t size) {
  switch (request_entry.handler) {
    case abi::Handler::kRmControl:
      return offsetof(nv::NVOS54_PARAMETERS, status);
    case abi::Handler::kRmAlloc:
      if (size == sizeof(nv::NVOS64_PARAMETERS)) return offsetof(nv::NVOS64_PARAMETERS, status);
      if (size == sizeof(nv::NVOS21_PARAMETERS)) return offsetof(nv::NVOS21_PARAMETERS, status);
      return std::nullopt;
    default:
      break;
  }
  for (const abi::LayoutItem& item : request_entry.layout) {
    if (item.kind == abi::LayoutItem::Kind::kStatus) return item.offset;
  }
  return std::nullopt;
}

namespace {

std::vector<std::byte> CopyOf(const void* data, std::size_t len) {
  const auto* bytes = static_cast<const std::byte*>(data);
  return {bytes, bytes + len};
}

}  // namespace

bool RecordingMemory::Read(std::uint64_t addr, void* out, std::size_t len) {
  if (!memory_.Read(addr, out, len)) return false;
  if (keep_all_) in_.push_back({addr, CopyOf(out, len)});
  return true;
}

bool RecordingMemory::Write(std::uint64_t addr, const void* in, std::size_t len) {
  if (!memory_.Write(addr, in, len)) return false;
  if (keep_all_) out_.push_back({addr, CopyOf(in, len)});
  if (addr == top_) last_top_write_ = CopyOf(in, len);
  return true;
}

void RecordingMemory::WrittenByDriver(std::uint64_t addr, std::span<const std::byte> bytes) {
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  if (keep_all_) out_.push_back({addr, copy});
  if (addr == top_) last_top_write_ = std::move(copy);
}

void RecordingMemory::Complete(CallRecord& record, const abi::Table& table) {
  record.in = std::move(in_);
  record.out = std::move(out_);
  const abi::Entry* entry = table.Find(record.request_level, record.request_key);
  if (entry == nullptr || !last_top_write_) return;
  std::optional<std::uint32_t> offset = StatusOffset(*entry, record.size);
  if (!offset || *offset + sizeof(std::uint32_t) > last_top_write_->size()) return;
  std::uint32_t status = 0;
  std::memcpy(&status, last_top_write_->data() + *offset, sizeof status);
  record.status = status;
}

}  // namespace nvgate::proxy
