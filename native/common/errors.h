// Errors caused by the caller's data or options. The binding files turn every C++ exception into a JS
// Error; this type marks the ones whose message is meant for the user as is.
#pragma once
#include <stdexcept>
#include <string>

namespace ser {

struct InputError : std::runtime_error {
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace ser
