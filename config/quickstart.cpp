#include "config/quickstart.hpp"

#include "config/quickstart_text.hpp"

namespace spendwall::config {

std::string_view quickstart_yaml() noexcept { return detail::kQuickstartYaml; }

}  // namespace spendwall::config
