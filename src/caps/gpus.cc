#include "caps/gpus.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <tuple>

namespace nvgate::gpus {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Lower(s.substr(0, prefix.size())) == Lower(prefix);
}

// "domain:bus:slot.function" in hex, leading zeros optional, as
// libnvidia-container's matches_pci_format reads it; normalised to the
// driver's "%04x:%02x:%02x.%x".
std::optional<std::string> PciBusId(std::string_view device) {
  unsigned domain = 0, bus = 0, slot = 0, function = 0;
  char tail = 0;
  const std::string text(device);
  if (std::sscanf(text.c_str(), "%x:%x:%x.%x%c", &domain, &bus, &slot, &function, &tail) != 4) return std::nullopt;
  if (bus > 0xff || slot > 0x1f || function > 7) return std::nullopt;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, slot, function);
  return std::string(buf);
}

std::optional<int> Index(std::string_view device) {
  int value = -1;
  auto [end, ec] = std::from_chars(device.data(), device.data() + device.size(), value);
  if (ec != std::errc() || end != device.data() + device.size() || value < 0) return std::nullopt;
  return value;
}

bool IsMigName(std::string_view device) {
  if (StartsWithNoCase(device, "MIG-")) return true;
  const auto colon = device.find(':');
  return colon != std::string_view::npos && device.find(':', colon + 1) == std::string_view::npos &&
         Index(device.substr(0, colon)) && Index(device.substr(colon + 1));
}

}  // namespace

std::string UuidText(std::span<const std::uint8_t, 16> uuid) {
  std::string out = "GPU-";
  char buf[3];
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    std::snprintf(buf, sizeof buf, "%02x", uuid[i]);
    out += buf;
  }
  return out;
}

Request ParseRequest(std::optional<std::string_view> text, RequestKind unset) {
  if (!text) return Request{.kind = unset, .devices = {}};
  Request request{.kind = RequestKind::kList, .devices = {}};
  std::string_view rest = *text;
  while (true) {
    const auto comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    if (!item.empty()) request.devices.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  // The toolkit's special values: "void" anywhere, or nothing at all, is void;
  // else the first of "all" and "none" decides.
  if (request.devices.empty() ||
      std::find(request.devices.begin(), request.devices.end(), "void") != request.devices.end()) {
    return Request{.kind = RequestKind::kVoid, .devices = {}};
  }
  for (const std::string& item : request.devices) {
    if (item == "all") return Request{.kind = RequestKind::kAll, .devices = {}};
    if (item == "none") return Request{.kind = RequestKind::kNone, .devices = {}};
  }
  return request;
}

Selection Selection::All(std::vector<Gpu> machine) {
  Selection s;
  s.kind_ = RequestKind::kAll;
  s.gpus_ = std::move(machine);
  return s;
}

Selection Selection::Of(RequestKind kind, std::vector<Gpu> selected, std::size_t machine_gpus) {
  std::sort(selected.begin(), selected.end(), [](const Gpu& a, const Gpu& b) { return a.index < b.index; });
  selected.erase(std::unique(selected.begin(), selected.end(),
                             [](const Gpu& a, const Gpu& b) { return a.index == b.index; }),
                 selected.end());
  Selection s;
  s.kind_ = kind;
  s.restricted_ = selected.size() < machine_gpus;
  s.gpus_ = std::move(selected);
  return s;
}

const Gpu* Selection::ByIndex(int index) const {
  auto it = std::find_if(gpus_.begin(), gpus_.end(), [&](const Gpu& g) { return g.index == index; });
  return it == gpus_.end() ? nullptr : &*it;
}

const Gpu* Selection::ByGpuId(std::uint32_t gpu_id) const {
  auto it = std::find_if(gpus_.begin(), gpus_.end(), [&](const Gpu& g) { return g.gpu_id == gpu_id; });
  return it == gpus_.end() ? nullptr : &*it;
}

const Gpu* Selection::ByUuid(std::string_view uuid) const {
  const std::string wanted = Lower(uuid);
  auto it = std::find_if(gpus_.begin(), gpus_.end(), [&](const Gpu& g) { return Lower(g.uuid) == wanted; });
  return it == gpus_.end() ? nullptr : &*it;
}

std::string Selection::ToString() const {
  if (kind_ == RequestKind::kVoid) return "void";
  if (gpus_.empty()) return "none";
  std::string out;
  for (const Gpu& g : gpus_) {
    if (!out.empty()) out += ',';
    out += std::to_string(g.index);
  }
  return out;
}

Result<Gpu> Find(std::string_view device, std::span<const Gpu> machine) {
  if (IsMigName(device)) {
    return tl::unexpected(Error::Unsupported("GPU '" + std::string(device) +
                                             "' is a MIG device, which nvgate cannot select yet; name the whole GPU"));
  }
  // libnvidia-container: a full UUID (no prefixes), case-insensitive.
  if (StartsWithNoCase(device, "GPU-") && device.size() > 4) {
    const std::string wanted = Lower(device);
    for (const Gpu& g : machine) {
      if (Lower(g.uuid) == wanted) return g;
    }
  }
  if (auto bus_id = PciBusId(device)) {
    for (const Gpu& g : machine) {
      if (g.pci_bus_id == *bus_id) return g;
    }
  }
  // An index counts GPUs as libnvidia-container does, in NVML's order, which
  // is PCI bus order (the order nvidia-smi lists them in); usually, not always,
  // the order of their minor numbers.
  if (auto index = Index(device); index && static_cast<std::size_t>(*index) < machine.size()) {
    std::vector<const Gpu*> ordered;
    for (const Gpu& g : machine) ordered.push_back(&g);
    std::sort(ordered.begin(), ordered.end(), [](const Gpu* a, const Gpu* b) {
      return std::tie(a->pci_bus_id, a->index) < std::tie(b->pci_bus_id, b->index);
    });
    return *ordered[static_cast<std::size_t>(*index)];
  }
  return tl::unexpected(Error::NotFound("GPU '" + std::string(device) + "' names no GPU of this machine (" +
                                        std::to_string(machine.size()) + " GPU" + (machine.size() == 1 ? "" : "s") +
                                        ": give an index, a full GPU-... UUID or a PCI bus id)"));
}

std::string OutsideBound(std::string_view device, const Gpu& gpu, const Selection& bound) {
  return "GPU '" + std::string(device) + "' (GPU " + std::to_string(gpu.index) + ", " + gpu.uuid +
         ") is outside the operator's bound on GPUs (" + bound.ToString() + "; widen it with --allowed-gpus)";
}

Result<Selection> ResolveBound(std::string_view text, std::span<const Gpu> machine) {
  Request request = ParseRequest(text);
  std::vector<Gpu> all(machine.begin(), machine.end());
  switch (request.kind) {
    case RequestKind::kAll:
      return Selection::All(std::move(all));
    case RequestKind::kNone:
    case RequestKind::kVoid:
      return Selection::Of(RequestKind::kNone, {}, machine.size());
    case RequestKind::kList:
      break;
  }
  // A list bound is read as a request that nothing bounds.
  return Resolve(request, machine, Selection::All(std::move(all)));
}

Result<Selection> Resolve(const Request& request, std::span<const Gpu> machine, const Selection& bound) {
  switch (request.kind) {
    case RequestKind::kAll:
      if (!bound.restricted()) return Selection::All(bound.gpus());
      return Selection::Of(RequestKind::kAll, bound.gpus(), machine.size());
    case RequestKind::kNone:
    case RequestKind::kVoid:
      return Selection::Of(request.kind, {}, machine.size());
    case RequestKind::kList:
      break;
  }
  std::vector<Gpu> selected;
  for (const std::string& device : request.devices) {
    auto gpu = Find(device, machine);
    if (!gpu) return tl::unexpected(gpu.error());
    if (!bound.ByIndex(gpu->index)) return tl::unexpected(Error::Refused(OutsideBound(device, *gpu, bound)));
    selected.push_back(*gpu);
  }
  return Selection::Of(RequestKind::kList, std::move(selected), machine.size());
}

}  // namespace nvgate::gpus
