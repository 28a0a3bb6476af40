// How every nvgate command reports: one logger (spdlog's default, on stderr,
// each line prefixed with its program: "nvgate", "nvgate run: ...") and one
// function from an error's kind and the command to the exit status
// (docs/man/nvgate.1, EXIT STATUS).
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

#include "error/error.h"

namespace nvgate::cli {

// A program (the workload or the runtime) could not be executed, whatever the command.
inline constexpr int kExitCannotExecute = 127;
// agent status and agent-container: the agent could not be asked, or the
// container's supervisor could not start.
inline constexpr int kExitAgentPeerFailure = 1;

// What a command does, which decides the status of its failures.
enum class CommandRole {
  kStartsWorkload,  // run, trace, learn COMMAND, agent, oci runtime: 125, as container engines answer
  kDoctor,          // 3: doctor's 1 and 2 are verdicts on the host
  kReadsInput,      // abi, replay, summary, learn TRACE, oci profile, config: 2
  kAgentPeer,       // agent status, agent-container: 1, or 2 for bad usage
};

// The role of a command path as the parser names it ("run", "oci runtime";
// "" before any command, and learn when it runs a command).
CommandRole RoleOf(std::string_view command);

// The exit status of a failure of `kind` in a command of `role`; 127 whatever
// the command when a program could not be executed.
int ExitStatus(CommandRole role, ErrorKind kind);

// nvgate's one logger: installed as spdlog's default on first use. Lines of
// the default logger start "nvgate: "; Log's start with their program.
std::shared_ptr<spdlog::logger> Logger();

// `line` on stderr as "PROGRAM: line", at `level`.
void Log(std::string_view program, spdlog::level::level_enum level, std::string_view line);

// `line` as "PROGRAM: line", or alone for program "", at every --log-level:
// a command's result ("nvgate trace: 12 calls written to ..."), a warning it
// always gave, a machine-readable record (a JSON denial line).
void Print(std::string_view program, std::string_view line);

// Reports `error` as "PROGRAM: message" and returns its exit status.
int Fail(std::string_view program, CommandRole role, const Error& error);
// The same for `nvgate COMMAND`.
int Fail(std::string_view command, const Error& error);

}  // namespace nvgate::cli
