#pragma once

#include "proxy/net.hpp"

namespace spendwall::proxy::server {

class Worker;

/// Serves one client connection: reads request heads within `header_timeout`,
/// enforces HTTP framing hygiene, hands each request to the pipeline, keeps the
/// connection alive between requests for `idle_timeout`. The coroutine frame owns
/// the stream and its buffers.
awaitable<void> run_session(Worker& worker, tcp::socket socket);

}  // namespace spendwall::proxy::server
