#pragma once

#include <string>
#include <vector>

#include "metering/request_record.hpp"
#include "metering/sse.hpp"
#include "proxy/routing/runtime_config.hpp"

namespace spendwall::proxy::server {

/// Per-connection scratch space for the requests it serves one after another, so a
/// keep-alive connection stops allocating once its buffers have grown.
struct ExchangeBuffers {
  /// Largest SSE event accepted from a provider; a bigger one is a broken stream.
  static constexpr std::size_t kMaxSseEventBytes = 1 << 20;

  std::string upstream_body;    ///< the rewritten request body sent upstream
  std::string response_body;    ///< a buffered (non-streaming) upstream response
  std::string translated_body;  ///< that response in the client's API, when translated
  std::string outgoing_chunk;   ///< SSE events relayed to the client in one write
  std::string scratch;          ///< error bodies and small answers
  metering::SseFramer framer{kMaxSseEventBytes};
  std::vector<const routing::TargetRuntime*> candidates;  ///< targets to try, in order
  metering::RequestRecord record;                         ///< the ledger record being built
};

}  // namespace spendwall::proxy::server
