// What the agent's metrics endpoint takes from outside: request heads from any
// client that can connect, listen addresses from the operator, and label
// values (container ids) from whoever starts containers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/exposition.h"
#include "metrics/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string reply = nvgate::metrics::AnswerRequest(text, [] { return std::string("x 1\n"); });
  if (!reply.starts_with("HTTP/1.1 ") || reply.find("\r\nConnection: close\r\n") == std::string::npos) {
    __builtin_trap();
  }
  (void)nvgate::metrics::ParseListenAddress(text);
  // An escaped value has no raw newline, and every backslash and quote in it
  // is part of an escape: it cannot end its label or start another.
  std::string escaped = nvgate::metrics::EscapeLabelValue(text);
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\n' || escaped[i] == '"') __builtin_trap();
    if (escaped[i] == '\\') {
      if (i + 1 == escaped.size()) __builtin_trap();
      char next = escaped[++i];
      if (next != '\\' && next != '"' && next != 'n') __builtin_trap();
    }
  }
  return 0;
}
