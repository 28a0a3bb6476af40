// nvgate's error: what kind of failure, the errno of a failed system call, and
// the message printed for it. Commands map the kind to their exit status
// (cli/failure.h) and JSON outputs report it by its stable id (ErrorKindId).
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace nvgate {

// The failures nvgate's callers tell apart. A closed set: a JSON consumer or
// an exit status may depend on each, so a new kind is a documented change.
enum class ErrorKind {
  kUsage,        // an option or argument that is not one nvgate accepts
  kConfig,       // the configuration file
  kMalformed,    // input that does not parse: a trace, a config.json, a message, a table
  kUnsupported,  // a driver version, kernel feature or size nvgate does not know
  kNotFound,     // something named that is not there: a GPU, a program in PATH, the driver
  kRefused,      // a request outside the operator's bound (capabilities, GPUs, privileges)
  kSystem,       // a system call failed; errno says how
  kExec,         // a program could not be executed; errno says why
  kDiverged,     // a replayed workload made a call its trace does not have
  kInternal,     // nvgate used one of its own parts wrongly
};

// The id JSON outputs carry for a kind; stable across releases.
constexpr std::string_view ErrorKindId(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return "usage";
    case ErrorKind::kConfig: return "config";
    case ErrorKind::kMalformed: return "malformed";
    case ErrorKind::kUnsupported: return "unsupported";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kRefused: return "refused";
    case ErrorKind::kSystem: return "system";
    case ErrorKind::kExec: return "exec";
    case ErrorKind::kDiverged: return "diverged";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  int errno_value = 0;  // for kSystem and kExec, where the failed call gave one; else 0
  std::string message;  // the whole line after the command's prefix

  static Error Usage(std::string message) { return {ErrorKind::kUsage, 0, std::move(message)}; }
  static Error Config(std::string message) { return {ErrorKind::kConfig, 0, std::move(message)}; }
  static Error Malformed(std::string message) { return {ErrorKind::kMalformed, 0, std::move(message)}; }
  static Error Unsupported(std::string message) { return {ErrorKind::kUnsupported, 0, std::move(message)}; }
  static Error NotFound(std::string message) { return {ErrorKind::kNotFound, 0, std::move(message)}; }
  static Error Refused(std::string message) { return {ErrorKind::kRefused, 0, std::move(message)}; }
  static Error Diverged(std::string message) { return {ErrorKind::kDiverged, 0, std::move(message)}; }
  static Error Internal(std::string message) { return {ErrorKind::kInternal, 0, std::move(message)}; }
  // `message` already says what failed and how (usually ending in strerror).
  static Error System(int errno_value, std::string message) {
    return {ErrorKind::kSystem, errno_value, std::move(message)};
  }
  // "WHAT: strerror(errno)", with the errno of the call that just failed.
  static Error Errno(std::string_view what) {
    const int e = errno;
    return System(e, fmt::format("{}: {}", what, std::strerror(e)));
  }
  static Error Exec(int errno_value, std::string message) {
    return {ErrorKind::kExec, errno_value, std::move(message)};
  }

  // The same failure with `context` before its message ("--gpus: ", "line 3: ").
  Error Prefixed(std::string_view context) const& { return {kind, errno_value, std::string(context) + message}; }
  Error Prefixed(std::string_view context) && {
    message.insert(0, context);
    return std::move(*this);
  }

  std::string_view id() const { return ErrorKindId(kind); }
};

template <class T>
using Result = tl::expected<T, Error>;

}  // namespace nvgate

// Formats as its message alone: the text nvgate printed before errors had kinds.
template <>
struct fmt::formatter<nvgate::Error> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const nvgate::Error& error, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(error.message, ctx);
  }
};
