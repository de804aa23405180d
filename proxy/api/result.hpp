#pragma once

#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "proxy/api/errors.hpp"

/// The value-or-error returned by the API layer's parsers.
/// Thread-safety: plain values.
namespace spendwall::api {

/// Why a request is refused, ready for `write_error_body`.
struct ApiError {
  ErrorKind kind = ErrorKind::invalid_request;
  /// Static text; it never contains client input, so it is safe to return and log as is.
  std::string_view message;
  /// The offending request field (`model`, `max_tokens`, `stream_options.include_usage`),
  /// empty when no single field is to blame. Static text.
  std::string_view param;
};

/// Either a `T` or the `ApiError` that prevented it.
template <class T>
class Result {
 public:
  // Implicit, so that a function can `return value;` or `return ApiError{…};`.
  Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>)
      : state_(std::in_place_index<0>, std::move(value)) {}
  Result(ApiError error) noexcept : state_(std::in_place_index<1>, error) {}

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// Only when `has_value()`.
  const T& value() const& noexcept { return *std::get_if<0>(&state_); }
  T& value() & noexcept { return *std::get_if<0>(&state_); }
  const T& operator*() const& noexcept { return value(); }
  const T* operator->() const noexcept { return std::get_if<0>(&state_); }

  /// Only when `!has_value()`.
  const ApiError& error() const noexcept { return *std::get_if<1>(&state_); }

 private:
  std::variant<T, ApiError> state_;
};

}  // namespace spendwall::api
