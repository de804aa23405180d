#include <csignal>
#include <string_view>
#include <vector>

#include "proxy/cli.hpp"

int main(int argc, char** argv) {
  // A client that disconnects mid-write must surface as an error code, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return spendwall::proxy::cli::run(args);
}
