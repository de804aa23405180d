#pragma once

#include <string>
#include <string_view>

#include "proxy/api/request.hpp"

/// Splices the few edits Spendwall makes to a request body into a copy of it, leaving every
/// other byte as the client sent it (PRODUCT.md §2, step 4).
/// Thread-safety: pure function.
namespace spendwall::api {

/// Replaces `out` with `original` where the `model` value is `new_model` (JSON-escaped) and,
/// when `inject_include_usage`, `stream_options.include_usage` is `true`: added as the first
/// member of the body when there is no `stream_options`, added to `stream_options` when
/// that lacks it, or replacing a `false`, a `null` member or a `null` `stream_options`.
///
/// `request` must come from parsing `original`. `out` is meant to be kept across requests:
/// its capacity is reused, so steady state allocates nothing.
void rewrite_body(std::string_view original, const ParsedRequest& request,
                  std::string_view new_model, bool inject_include_usage, std::string& out);

}  // namespace spendwall::api
