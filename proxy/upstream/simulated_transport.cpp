#include "proxy/upstream/simulated_transport.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace spendwall::proxy::upstream {
namespace {

using metering::Endpoint;

constexpr std::array<std::string_view, 16> kWords{
    " The",  " simulated", " provider", " answers", " with", " steady", " tokens", " so",
    " that", " budgets",   " and",      " routes",  " can",  " be",     " tried",  " offline."};
constexpr std::uint64_t kDefaultOutputTokens = 48;

void append_number(std::string& out, std::uint64_t value) { out += std::to_string(value); }

/// The text of output token `index`: one word per token, as the usage says.
std::string_view word(std::uint64_t index) { return kWords[index % kWords.size()]; }

std::string content_text(std::uint64_t tokens) {
  std::string text;
  for (std::uint64_t i = 0; i < tokens; ++i) text += word(i);
  return text;
}

std::string_view content_type_for(bool stream) {
  return stream ? "text/event-stream" : "application/json";
}

void append_openai_chat_usage(std::string& out, const SimulatedUsage& usage) {
  out += R"("usage":{"prompt_tokens":)";
  append_number(out, usage.input_tokens);
  out += R"(,"completion_tokens":)";
  append_number(out, usage.output_tokens);
  out += R"(,"total_tokens":)";
  append_number(out, usage.input_tokens + usage.output_tokens);
  out +=
      R"(,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}})";
}

void append_responses_usage(std::string& out, const SimulatedUsage& usage) {
  out += R"("usage":{"input_tokens":)";
  append_number(out, usage.input_tokens);
  out += R"(,"input_tokens_details":{"cached_tokens":0},"output_tokens":)";
  append_number(out, usage.output_tokens);
  out += R"(,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":)";
  append_number(out, usage.input_tokens + usage.output_tokens);
  out += '}';
}

void append_anthropic_usage(std::string& out, std::uint64_t input, std::uint64_t output) {
  out += R"("usage":{"input_tokens":)";
  append_number(out, input);
  out += R"(,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":)";
  append_number(out, output);
  out += '}';
}

/// A JSON string literal of text that contains no characters needing escapes.
std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string complete_body(Endpoint endpoint, std::string_view model, std::string_view id,
                          const SimulatedUsage& usage) {
  std::string out;
  std::string text = content_text(usage.output_tokens);
  switch (endpoint) {
    case Endpoint::chat_completions:
      out = R"({"id":)" + quoted(id) + R"(,"object":"chat.completion","created":0,"model":)" +
            quoted(model) + R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)" +
            quoted(text) + R"(},"finish_reason":"stop"}],)";
      append_openai_chat_usage(out, usage);
      out += '}';
      break;
    case Endpoint::completions:
      out = R"({"id":)" + quoted(id) + R"(,"object":"text_completion","created":0,"model":)" +
            quoted(model) + R"(,"choices":[{"index":0,"text":)" + quoted(text) +
            R"(,"finish_reason":"stop"}],)";
      append_openai_chat_usage(out, usage);
      out += '}';
      break;
    case Endpoint::embeddings:
      out =
          R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0123,-0.0456,0.0789,0.0012]}],"model":)" +
          quoted(model) + R"(,"usage":{"prompt_tokens":)";
      append_number(out, usage.input_tokens);
      out += R"(,"total_tokens":)";
      append_number(out, usage.input_tokens);
      out += "}}";
      break;
    case Endpoint::responses:
      out =
          R"({"id":)" + quoted(id) +
          R"(,"object":"response","created_at":0,"status":"completed","model":)" + quoted(model) +
          R"(,"output":[{"type":"message","id":"msg_)" + std::string(id) +
          R"(","status":"completed","role":"assistant","content":[{"type":"output_text","text":)" +
          quoted(text) + R"(,"annotations":[]}]}],)";
      append_responses_usage(out, usage);
      out += '}';
      break;
    case Endpoint::messages:
      out = R"({"id":)" + quoted(id) + R"(,"type":"message","role":"assistant","model":)" +
            quoted(model) + R"(,"content":[{"type":"text","text":)" + quoted(text) +
            R"(}],"stop_reason":"end_turn","stop_sequence":null,)";
      append_anthropic_usage(out, usage.input_tokens, usage.output_tokens);
      out += '}';
      break;
    default:
      break;
  }
  return out;
}

std::string sse_event(std::string_view name, std::string_view data) {
  std::string out;
  if (!name.empty()) {
    out += "event: ";
    out += name;
    out += '\n';
  }
  out += "data: ";
  out += data;
  out += "\n\n";
  return out;
}

/// The SSE events of a streamed answer, in order; `token_event` marks the ones paced
/// at tokens_per_second.
struct StreamEvent {
  std::string bytes;
  bool paced = false;
};

std::vector<StreamEvent> stream_events(Endpoint endpoint, std::string_view model,
                                       std::string_view id, const SimulatedUsage& usage,
                                       bool include_usage) {
  std::vector<StreamEvent> events;
  std::string head = R"({"id":)" + quoted(id) + R"(,"model":)" + quoted(model);
  switch (endpoint) {
    case Endpoint::chat_completions:
    case Endpoint::completions: {
      bool chat = endpoint == Endpoint::chat_completions;
      std::string object = chat ? R"(,"object":"chat.completion.chunk","created":0)"
                                : R"(,"object":"text_completion","created":0)";
      for (std::uint64_t i = 0; i < usage.output_tokens; ++i) {
        std::string piece = chat ? R"(,"choices":[{"index":0,"delta":{"content":)" +
                                       quoted(word(i)) + R"(},"finish_reason":null}]})"
                                 : R"(,"choices":[{"index":0,"text":)" + quoted(word(i)) +
                                       R"(,"finish_reason":null}]})";
        events.push_back({sse_event({}, head + object + piece), true});
      }
      std::string stop = chat ? R"(,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
                              : R"(,"choices":[{"index":0,"text":"","finish_reason":"stop"}]})";
      events.push_back({sse_event({}, head + object + stop), false});
      if (include_usage) {
        std::string last = head + object + R"(,"choices":[],)";
        append_openai_chat_usage(last, usage);
        last += '}';
        events.push_back({sse_event({}, last), false});
      }
      events.push_back({sse_event({}, "[DONE]"), false});
      break;
    }
    case Endpoint::responses: {
      std::string response =
          R"({"id":)" + quoted(id) + R"(,"object":"response","model":)" + quoted(model);
      events.push_back(
          {sse_event("response.created", R"({"type":"response.created","response":)" + response +
                                             R"(,"status":"in_progress"}})"),
           false});
      for (std::uint64_t i = 0; i < usage.output_tokens; ++i) {
        events.push_back(
            {sse_event(
                 "response.output_text.delta",
                 R"({"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":)" +
                     quoted(word(i)) + "}"),
             true});
      }
      std::string completed =
          R"({"type":"response.completed","response":)" + response +
          R"(,"status":"completed","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":)" +
          quoted(content_text(usage.output_tokens)) + R"(}]}],)";
      append_responses_usage(completed, usage);
      completed += "}}";
      events.push_back({sse_event("response.completed", completed), false});
      break;
    }
    case Endpoint::messages: {
      std::string start = R"({"type":"message_start","message":{"id":)" + quoted(id) +
                          R"(,"type":"message","role":"assistant","model":)" + quoted(model) +
                          R"(,"content":[],"stop_reason":null,"stop_sequence":null,)";
      append_anthropic_usage(start, usage.input_tokens, 1);
      start += "}}";
      events.push_back({sse_event("message_start", start), false});
      events.push_back(
          {sse_event(
               "content_block_start",
               R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"),
           false});
      for (std::uint64_t i = 0; i < usage.output_tokens; ++i) {
        events.push_back(
            {sse_event(
                 "content_block_delta",
                 R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)" +
                     quoted(word(i)) + "}}"),
             true});
      }
      events.push_back(
          {sse_event("content_block_stop", R"({"type":"content_block_stop","index":0})"), false});
      std::string delta =
          R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":)";
      append_number(delta, usage.output_tokens);
      delta += "}}";
      events.push_back({sse_event("message_delta", delta), false});
      events.push_back({sse_event("message_stop", R"({"type":"message_stop"})"), false});
      break;
    }
    default:
      break;
  }
  return events;
}

std::string error_body(Endpoint endpoint, unsigned status) {
  std::string message = "simulated provider error (status " + std::to_string(status) + ")";
  if (endpoint == Endpoint::messages) {
    std::string_view type = status == 429   ? "rate_limit_error"
                            : status == 529 ? "overloaded_error"
                                            : "api_error";
    return R"({"type":"error","error":{"type":")" + std::string(type) + R"(","message":")" +
           message + R"("}})";
  }
  std::string_view type = status == 429   ? "rate_limit_exceeded"
                          : status >= 500 ? "server_error"
                                          : "invalid_request_error";
  return R"({"error":{"message":")" + message + R"(","type":")" + std::string(type) +
         R"(","param":null,"code":null}})";
}

}  // namespace

constexpr ExchangeResult kSinkAborted{TransportFailure::sink_aborted, true, {}};

SimulatedUsage simulated_usage(Endpoint endpoint, const RequestShape& shape) noexcept {
  SimulatedUsage usage;
  // About four bytes of text per token, plus a little per-request framing.
  usage.input_tokens = (shape.input_text_bytes + 3) / 4 + 7;
  if (endpoint == Endpoint::embeddings) return usage;
  std::uint64_t natural = 24 + shape.input_text_bytes % 41;
  usage.output_tokens = std::min(natural, shape.max_output_tokens.value_or(kDefaultOutputTokens));
  return usage;
}

SimulatedTransport::SimulatedTransport(net::any_io_executor executor, std::uint64_t seed)
    : executor_(std::move(executor)),
      random_(static_cast<std::minstd_rand::result_type>(seed | 1)) {}

awaitable<ExchangeResult> SimulatedTransport::exchange(const UpstreamRequest& request,
                                                       ResponseSink& sink) {
  const config::ProviderSpec& spec = *request.provider->spec;
  ExchangeResult result;
  net::steady_timer timer(executor_);

  auto sleep_until = [&](Clock::time_point when) -> awaitable<bool> {
    if (when > request.deadline) {
      timer.expires_at(request.deadline);
      co_await timer.async_wait(use_tuple);
      co_return false;
    }
    timer.expires_at(when);
    co_await timer.async_wait(use_tuple);
    co_return true;
  };

  bool in_time = co_await sleep_until(Clock::now() + spec.latency);
  if (!in_time) {
    co_return ExchangeResult{TransportFailure::timeout, false,
                             "simulated provider exceeded the deadline"};
  }

  std::string id = "sim-" + std::to_string(++sequence_);
  http::response_header<> head;
  head.version(11);
  bool fail = spec.error_rate > 0.0 &&
              std::uniform_real_distribution<double>(0.0, 1.0)(random_) < spec.error_rate;
  if (fail) {
    head.result(spec.error_status);
    head.set(http::field::content_type, "application/json");
    if (spec.error_status == 429) head.set(http::field::retry_after, "1");
    result.head_received = true;
    error_code ec = co_await sink.on_head(head);
    if (ec) co_return kSinkAborted;
    std::string body = error_body(request.endpoint, spec.error_status);
    ec = co_await sink.on_body(body);
    if (ec) co_return kSinkAborted;
    co_return result;
  }

  SimulatedUsage usage = simulated_usage(request.endpoint, request.shape);
  bool stream = request.shape.stream && request.endpoint != Endpoint::embeddings;
  head.result(http::status::ok);
  head.set(http::field::content_type, content_type_for(stream));
  head.set("x-simulated-provider", spec.name);
  result.head_received = true;
  error_code ec = co_await sink.on_head(head);
  if (ec) co_return kSinkAborted;

  if (!stream) {
    std::string body = complete_body(request.endpoint, request.model, id, usage);
    ec = co_await sink.on_body(body);
    if (ec) co_return kSinkAborted;
    co_return result;
  }

  auto token_interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / std::max(spec.tokens_per_second, 0.001)));
  auto next = Clock::now();
  for (const StreamEvent& event : stream_events(request.endpoint, request.model, id, usage,
                                                request.shape.stream_include_usage)) {
    if (event.paced) {
      next += token_interval;
      in_time = co_await sleep_until(next);
      if (!in_time) {
        co_return ExchangeResult{TransportFailure::timeout, true,
                                 "stream exceeded request_timeout"};
      }
    }
    ec = co_await sink.on_body(event.bytes);
    if (ec) co_return kSinkAborted;
  }
  co_return result;
}

}  // namespace spendwall::proxy::upstream
