// The names of an enum's values, kept as one table indexed by the value: the
// same table names a value and reads a name back (ABI tables, traces,
// capability lists), so the two directions cannot disagree.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace nvgate::names {

template <class Value, std::size_t N>
constexpr std::string_view NameOf(const std::array<std::string_view, N>& names, Value value) {
  return names[static_cast<std::size_t>(value)];
}

// The value `name` names. An empty name reads as none: a value written as
// nothing (a trace's Reason::kNone) is never read back from nothing.
template <class Value, std::size_t N>
constexpr std::optional<Value> FromName(const std::array<std::string_view, N>& names, std::string_view name) {
  if (name.empty()) return std::nullopt;
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Value>(i);
  }
  return std::nullopt;
}

}  // namespace nvgate::names
