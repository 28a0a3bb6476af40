#include "cli/failure.h"

#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "cli/commands.h"

namespace nvgate::cli {
namespace {

// "%*": the logger's name and ": ", or nothing for a logger without a name
// (Record's), so that one sink and one pattern serve every line.
class ProgramPrefix final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (msg.logger_name.size() == 0) return;
    dest.append(msg.logger_name.data(), msg.logger_name.data() + msg.logger_name.size());
    constexpr std::string_view kSeparator = ": ";
    dest.append(kSeparator.data(), kSeparator.data() + kSeparator.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<ProgramPrefix>(); }
};

constexpr const char* kLoggerName = "nvgate";

}  // namespace

CommandRole RoleOf(std::string_view command) {
  if (command == "run" || command == "trace" || command == "learn" || command == "oci runtime" || command == "agent") {
    return CommandRole::kStartsWorkload;
  }
  if (command == "doctor") return CommandRole::kDoctor;
  if (command == "agent status" || command == "agent-container") return CommandRole::kAgentPeer;
  return CommandRole::kReadsInput;
}

int ExitStatus(CommandRole role, ErrorKind kind) {
  if (kind == ErrorKind::kExec) return kExitCannotExecute;
  switch (role) {
    case CommandRole::kStartsWorkload: return kExitSetupFailure;
    case CommandRole::kDoctor: return kExitDoctorUsage;
    case CommandRole::kReadsInput: return kExitUsage;
    case CommandRole::kAgentPeer:
      return kind == ErrorKind::kUsage || kind == ErrorKind::kConfig ? kExitUsage : kExitAgentPeerFailure;
  }
  return kExitUsage;
}

std::shared_ptr<spdlog::logger> Logger() {
  if (auto logger = spdlog::get(kLoggerName)) return logger;
  auto logger = spdlog::stderr_color_mt(kLoggerName);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<ProgramPrefix>('*').set_pattern("%*%v");
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
  return logger;
}

void Log(std::string_view program, spdlog::level::level_enum level, std::string_view line) {
  Logger()->clone(std::string(program))->log(level, "{}", line);
}

void Print(std::string_view program, std::string_view line) {
  // The most severe level, which every --log-level lets through.
  Logger()->clone(std::string(program))->log(spdlog::level::critical, "{}", line);
}

int Fail(std::string_view program, CommandRole role, const Error& error) {
  Log(program, spdlog::level::err, error.message);
  return ExitStatus(role, error.kind);
}

int Fail(std::string_view command, const Error& error) {
  return Fail("nvgate " + std::string(command), RoleOf(command), error);
}

}  // namespace nvgate::cli
