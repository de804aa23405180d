#pragma once

#include "metering/json_writer.hpp"

/// The JSON writer lives in metering (the ledger renders its records with it); the API
/// layer uses it under its own namespace.
namespace spendwall::api {
using metering::json_escape;
using metering::JsonWriter;
}  // namespace spendwall::api
