#include "caps/caps.h"

#include <array>
#include <cctype>

#include "names/names.h"

namespace nvgate::caps {
namespace {

constexpr std::array<std::string_view, kCapabilityCount> kNames = {
    "compute", "utility",  "graphics",  "video",            "display",
    "ngx",     "compat32", "profiling", "fabric-imex-mgmt", "rdma",
};

std::string_view Trim(std::string_view s) {
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string KnownNames() {
  std::string out;
  for (std::string_view n : kNames) {
    out += out.empty() ? "" : ", ";
    out += n;
  }
  return out + ", all";
}

}  // namespace

std::string_view Name(Capability cap) { return names::NameOf(kNames, cap); }

std::optional<Capability> FromName(std::string_view name) { return names::FromName<Capability>(kNames, name); }

bool IsPrivileged(Capability cap) {
  return cap == Capability::kProfiling || cap == Capability::kFabricImexMgmt ||
         cap == Capability::kRdma;
}

CapSet CapSet::AllUnprivileged() {
  CapSet s;
  for (int i = 0; i < kCapabilityCount; ++i) {
    auto c = static_cast<Capability>(i);
    if (!IsPrivileged(c)) s = s | CapSet{c};
  }
  return s;
}

std::string CapSet::ToString() const {
  std::string out;
  for (int i = 0; i < kCapabilityCount; ++i) {
    auto c = static_cast<Capability>(i);
    if (!Has(c)) continue;
    if (!out.empty()) out += ',';
    out += Name(c);
  }
  return out;
}

Result<ParsedList> ParseList(std::string_view text) {
  ParsedList parsed;
  while (true) {
    std::size_t comma = text.find(',');
    std::string_view token = Trim(text.substr(0, comma));
    if (token == "all") {
      parsed.all = true;
    } else if (!token.empty()) {
      std::optional<Capability> cap = FromName(token);
      if (!cap) {
        return tl::unexpected(
            Error::Usage("unknown driver capability \"" + std::string(token) + "\" (known: " + KnownNames() + ")"));
      }
      parsed.named = parsed.named | CapSet{*cap};
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parsed;
}

Result<CapSet> ParseAllowed(std::string_view text) {
  auto parsed = ParseList(text);
  if (!parsed) return tl::unexpected(parsed.error());
  return parsed->all ? parsed->named | CapSet::AllUnprivileged() : parsed->named;
}

Result<CapSet> Resolve(std::optional<std::string_view> requested, CapSet allowed, bool legacy_image) {
  ParsedList parsed;
  if (!requested) {
    if (legacy_image) {
      parsed.all = true;
    } else {
      parsed.named = CapSet::Default();
    }
  } else {
    auto list = ParseList(*requested);
    if (!list) return tl::unexpected(list.error());
    parsed = *list;
    if (!parsed.all && parsed.named.empty()) parsed.named = CapSet::Default();
  }

  CapSet outside = parsed.named - allowed;
  if (!outside.empty()) {
    bool several = outside.ToString().find(',') != std::string::npos;
    return tl::unexpected(Error::Refused(std::string(several ? "driver capabilities \"" : "driver capability \"") +
                                         outside.ToString() + (several ? "\" are" : "\" is") +
                                         " outside the allowed set \"" + allowed.ToString() +
                                         "\" (widen it with --allowed-caps)"));
  }
  CapSet enabled = parsed.named;
  if (parsed.all) enabled = enabled | (CapSet::AllUnprivileged() & allowed);
  return enabled;
}

}  // namespace nvgate::caps
