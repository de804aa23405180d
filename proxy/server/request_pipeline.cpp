#include "proxy/server/request_pipeline.hpp"

#include <simdjson.h>

#include <algorithm>
#include <optional>

#include "config/units.hpp"
#include "metering/cost.hpp"
#include "metering/estimate.hpp"
#include "metering/json_scan.hpp"
#include "metering/stream_usage.hpp"
#include "policies/budget_json.hpp"
#include "proxy/api/errors.hpp"
#include "proxy/api/feedback.hpp"
#include "proxy/api/headers.hpp"
#include "proxy/api/json_writer.hpp"
#include "proxy/api/request.hpp"
#include "proxy/api/rewrite.hpp"
#include "proxy/api/translate_request.hpp"
#include "proxy/api/translate_response.hpp"
#include "proxy/api/translate_stream.hpp"
#include "proxy/log.hpp"
#include "proxy/routing/failure.hpp"
#include "proxy/server/client_writer.hpp"
#include "proxy/server/exchange_buffers.hpp"
#include "proxy/server/worker.hpp"

namespace spendwall::proxy::server {
namespace {

using metering::Endpoint;
using upstream::Clock;

/// The status recorded when the client left before its response was complete.
constexpr unsigned kClientClosedRequest = 499;

bool expects_post(Endpoint endpoint) noexcept {
  return metering::is_metered(endpoint) || endpoint == Endpoint::feedback;
}

/// How a provider kind can answer an endpoint: in the client's own API, through the
/// OpenAI chat ⇄ Anthropic messages translation, or not at all (PRODUCT.md §2 step 7).
enum class Delivery : std::uint8_t { native, translated, impossible };

Delivery delivery(config::ProviderKind kind, Endpoint endpoint) noexcept {
  switch (kind) {
    case config::ProviderKind::simulated:
      return Delivery::native;
    case config::ProviderKind::anthropic:
      if (endpoint == Endpoint::messages) return Delivery::native;
      return endpoint == Endpoint::chat_completions ? Delivery::translated : Delivery::impossible;
    case config::ProviderKind::openai:
      return endpoint == Endpoint::messages ? Delivery::translated : Delivery::native;
  }
  return Delivery::impossible;
}

/// The endpoint whose wire format the provider answers in.
Endpoint upstream_wire(Endpoint client_endpoint, Delivery how) noexcept {
  if (how != Delivery::translated) return client_endpoint;
  return client_endpoint == Endpoint::messages ? Endpoint::chat_completions : Endpoint::messages;
}

std::int64_t unix_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

api::ErrorKind upstream_error_kind(config::FailureClass cls) noexcept {
  switch (cls) {
    case config::FailureClass::rate_limited:
      return api::ErrorKind::upstream_rate_limited;
    case config::FailureClass::timeout:
      return api::ErrorKind::upstream_timeout;
    case config::FailureClass::connect_error:
      return api::ErrorKind::upstream_connect_error;
    case config::FailureClass::context_length:
      return api::ErrorKind::upstream_context_length;
    default:
      return api::ErrorKind::upstream_server_error;
  }
}

bool is_event_stream(const http::response_header<>& head) {
  std::string_view type = head[http::field::content_type];
  return beast::iequals(type.substr(0, std::min<std::size_t>(type.size(), 17)),
                        "text/event-stream");
}

/// Relays one upstream attempt to the client. A buffered answer is kept (bounded by
/// `max_response_bytes`) for the pipeline to judge; a successful event stream goes out
/// event by event as it arrives, metered on the way, the first event committing the
/// response (no retry after that).
class RelaySink final : public upstream::ResponseSink {
 public:
  /// `translator`: set when the provider speaks the other API; events are then
  /// re-encoded in the client's format instead of relayed as they are.
  RelaySink(ClientWriter& client, ExchangeBuffers& buffers, metering::StreamUsageTracker& tracker,
            std::uint64_t max_response_bytes, bool hide_usage_chunk,
            api::StreamTranslator* translator)
      : client_(client),
        buffers_(buffers),
        tracker_(tracker),
        max_response_bytes_(max_response_bytes),
        hide_usage_chunk_(hide_usage_chunk),
        translator_(translator) {}

  awaitable<error_code> on_head(const http::response_header<>& head) override {
    head_ = head;
    streaming_ = head.result_int() / 100 == 2 && is_event_stream(head);
    buffers_.response_body.clear();
    buffers_.framer.reset();
    co_return error_code{};
  }

  awaitable<error_code> on_body(std::string_view bytes) override {
    if (!streaming_) {
      if (buffers_.response_body.size() + bytes.size() > max_response_bytes_) {
        too_large_ = true;
        co_return make_error_code(boost::system::errc::message_size);
      }
      buffers_.response_body.append(bytes);
      co_return error_code{};
    }
    std::string& out = buffers_.outgoing_chunk;
    out.clear();
    metering::SseEvent event;
    while (buffers_.framer.next(bytes, event)) {
      auto disposition = tracker_.observe(event.name, event.data);
      if (translator_) {
        if (!translate(event.data, out)) break;
        continue;
      }
      if (disposition == metering::EventDisposition::usage_only_chunk && hide_usage_chunk_)
        continue;
      out.append(event.raw);
    }
    if (buffers_.framer.failed() || bad_stream_) {
      bad_stream_ = true;
      co_return make_error_code(boost::system::errc::bad_message);
    }
    error_code ec = co_await send(out);
    co_return ec;
  }

  /// At the end of a completed stream: forwards whatever trailing bytes did not form a
  /// whole event (the client sees what the provider sent). The last chunk is the
  /// pipeline's to send, once the record is in the ledger.
  awaitable<error_code> flush_stream() {
    metering::SseEvent event;
    std::string& out = buffers_.outgoing_chunk;
    out.clear();
    if (buffers_.framer.finish(event)) {
      tracker_.observe(event.name, event.data);
      if (translator_) {
        translate(event.data, out);
      } else {
        out.append(event.raw);
      }
    }
    if (translator_) {
      translator_->finish(out);
    } else {
      out.append(buffers_.framer.pending());
    }
    error_code ec = co_await send(out);
    if (ec || client_.started()) co_return ec;
    error_code head_ec = co_await client_.begin_stream(head_);
    co_return head_ec;
  }

  const http::response_header<>& head() const noexcept { return head_; }
  bool streaming() const noexcept { return streaming_; }
  bool too_large() const noexcept { return too_large_; }
  bool bad_stream() const noexcept { return bad_stream_; }
  bool client_gone() const noexcept { return client_gone_; }
  std::optional<Clock::time_point> first_byte_at() const noexcept { return first_byte_at_; }

 private:
  /// Re-encodes one upstream event; false when the provider's stream is broken or
  /// reported an error (a failure that may still fall back if nothing went out).
  bool translate(std::string_view data, std::string& out) {
    auto progress = translator_->on_event(data, out);
    if (!progress || *progress == api::StreamProgress::upstream_error) {
      bad_stream_ = true;
      return false;
    }
    return true;
  }

  awaitable<error_code> send(std::string_view bytes) {
    if (bytes.empty()) co_return error_code{};
    if (!client_.started()) {
      first_byte_at_ = Clock::now();
      error_code head_ec = co_await client_.begin_stream(head_);
      if (head_ec) {
        client_gone_ = true;
        co_return head_ec;
      }
    }
    error_code chunk_ec = co_await client_.send_chunk(bytes);
    if (chunk_ec) client_gone_ = true;
    co_return chunk_ec;
  }

  ClientWriter& client_;
  ExchangeBuffers& buffers_;
  metering::StreamUsageTracker& tracker_;
  std::uint64_t max_response_bytes_;
  bool hide_usage_chunk_;
  api::StreamTranslator* translator_;
  http::response_header<> head_;
  bool streaming_ = false;
  bool too_large_ = false;
  bool bad_stream_ = false;
  bool client_gone_ = false;
  std::optional<Clock::time_point> first_byte_at_;
};

/// One attempt at one target, as the error message and the ledger tell it.
struct AttemptOutcome {
  const routing::TargetRuntime* target = nullptr;
  std::optional<config::FailureClass> failure;  ///< nullopt: the provider answered 2xx
  unsigned status = 0;                          ///< HTTP status the provider answered, 0 when none
  std::optional<Clock::duration> retry_after;   ///< the provider's Retry-After, in seconds form
  std::string_view detail;                      ///< static text
  Clock::time_point started_at{};
  Clock::duration duration{};
  std::optional<Clock::time_point> first_byte_at;
  bool delivered = false;  ///< the client got (part of) a response: no retry is possible
};

/// Retry policy of the implicit `provider/model` routes that `routes: ["*"]` allows.
const config::RouteSpec kImplicitRoutePolicy{};

constexpr auto kRetryBackoffBase = std::chrono::milliseconds(100);

/// Counts a metered request in `spendwall_active_requests` for as long as it lives.
class ActiveRequest {
 public:
  ActiveRequest(metering::WorkerMetrics& metrics, const routing::WorkflowRuntime* workflow)
      : metrics_(metrics), workflow_(workflow) {
    if (workflow_) metrics_.active_requests_add(workflow_->label, 1);
  }
  ~ActiveRequest() {
    if (workflow_) metrics_.active_requests_add(workflow_->label, -1);
  }
  ActiveRequest(const ActiveRequest&) = delete;
  ActiveRequest& operator=(const ActiveRequest&) = delete;

 private:
  metering::WorkerMetrics& metrics_;
  const routing::WorkflowRuntime* workflow_;
};

/// `Retry-After` in delta-seconds; an HTTP-date is ignored (providers send seconds).
std::optional<Clock::duration> parse_retry_after(std::string_view value) {
  if (value.empty() || value.size() > 9) return std::nullopt;
  std::uint64_t seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return std::chrono::seconds(seconds);
}

class Exchange {
 public:
  Exchange(Worker& worker, Generation& generation, beast::tcp_stream& stream,
           beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser,
           ExchangeBuffers& buffers)
      : worker_(worker),
        runtime_(*generation.runtime),
        http_(generation.http),
        limits_(runtime_.snapshot().server),
        stream_(stream),
        buffer_(buffer),
        parser_(parser),
        buffers_(buffers),
        started_at_(Clock::now()),
        started_wall_(std::chrono::system_clock::now()),
        deadline_(started_at_ + limits_.request_timeout),
        client_(stream, parser.get().version(), parser.get().keep_alive(), deadline_),
        tracker_(worker.usage_extractor(), Endpoint::chat_completions),
        translator_(worker.translation()) {}

  // A request cut short (shutdown, a destroyed session) still returns its reservation.
  ~Exchange() { settle_budget(); }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  /// The steps, in the order PRODUCT.md §2 documents.
  awaitable<bool> run() {
    request_id_ = worker_.next_request_id();
    client_.extra_headers().set("x-spendwall-request-id", request_id_.view());

    bool admitted = check_endpoint();
    // After a path or method refusal the key is still read, silently, so the refusal is
    // recorded under its workflow when it has one.
    admitted = admitted ? authenticate() && check_declared_size() : identify_workflow();
    if (admitted) {
      bool body_read = co_await read_body();
      admitted = body_read;
    }
    ActiveRequest active(worker_.metrics(),
                         admitted && metering::is_metered(endpoint_) ? workflow_ : nullptr);
    if (admitted && endpoint_ == Endpoint::models) {
      co_await list_models();
      co_return reusable();
    }
    if (admitted && endpoint_ == Endpoint::feedback) {
      co_await record_feedback();
      co_return reusable();
    }
    if (admitted && endpoint_ == Endpoint::budget) {
      co_await describe_budget();
      co_return reusable();
    }
    admitted = admitted && parse_body() && resolve_route() && read_control_headers() &&
               admit_budget() && plan_candidates();
    if (!admitted) {
      co_await reject();
      co_return reusable();
    }
    co_await forward();
    commit_record();
    co_return reusable();
  }

 private:
  bool reusable() const noexcept {
    return !silent_close_ && client_.keep_alive() && !worker_.draining();
  }

  // --- step 1: path and method -------------------------------------------------------
  bool check_endpoint() {
    const auto& request = parser_.get();
    std::string_view target = request.target();
    endpoint_ = metering::classify_path(target);
    format_ = metering::api_format(endpoint_);
    if (auto question = target.find('?'); question != std::string_view::npos)
      query_ = target.substr(question + 1);
    if (endpoint_ == Endpoint::other) {
      return fail(api::ErrorKind::path_not_found,
                  "no such endpoint; see the Spendwall API reference");
    }
    http::verb expected = expects_post(endpoint_) ? http::verb::post : http::verb::get;
    if (request.method() != expected) {
      return fail(api::ErrorKind::method_not_allowed, expected == http::verb::post
                                                          ? "this endpoint accepts POST only"
                                                          : "this endpoint accepts GET only");
    }
    return true;
  }

  // --- step 2: the key names the workflow ---------------------------------------------
  std::string_view client_key() const {
    const auto& request = parser_.get();
    return api::extract_client_key(request[http::field::authorization], request["x-api-key"]);
  }

  bool identify_workflow() {
    workflow_ = runtime_.authenticate(client_key());
    if (!workflow_) worker_.metrics().unauthenticated(endpoint_);
    return false;
  }

  bool authenticate() {
    std::string_view key = client_key();
    workflow_ = runtime_.authenticate(key);
    if (!workflow_) {
      worker_.metrics().unauthenticated(endpoint_);
      return fail(api::ErrorKind::invalid_api_key,
                  key.empty() ? "missing API key: send Authorization: Bearer <key> or x-api-key"
                              : "unknown API key");
    }
    return true;
  }

  // --- step 3: declared body size ----------------------------------------------------
  bool check_declared_size() {
    auto declared = parser_.content_length();
    if (declared && *declared > limits_.max_request_bytes) {
      client_.close_after_response();
      return fail(api::ErrorKind::request_too_large, "request body exceeds max_request_bytes");
    }
    return true;
  }

  awaitable<bool> read_body() {
    auto& request = parser_.get();
    if (!parser_.is_done() && beast::iequals(request[http::field::expect], "100-continue")) {
      http::response<http::empty_body> proceed{http::status::continue_, request.version()};
      stream_.expires_at(deadline_);
      auto [ec, written] = co_await http::async_write(stream_, proceed, use_tuple);
      if (ec) co_return close_silently();
    }
    if (auto declared = parser_.content_length()) {
      request.body().reserve(static_cast<std::size_t>(*declared) + simdjson::SIMDJSON_PADDING);
    }
    while (!parser_.is_done()) {
      // A body may arrive slowly, but not stall: each read gets idle_timeout.
      stream_.expires_at(std::min(deadline_, Clock::now() + limits_.idle_timeout));
      auto [ec, received] = co_await http::async_read_some(stream_, buffer_, parser_, use_tuple);
      if (!ec) continue;
      client_.close_after_response();
      if (ec == http::error::body_limit) {
        co_return fail(api::ErrorKind::request_too_large, "request body exceeds max_request_bytes");
      }
      if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
          ec == net::error::eof || ec == http::error::partial_message ||
          ec == net::error::connection_reset) {
        co_return close_silently();
      }
      co_return fail(api::ErrorKind::invalid_request, "invalid chunked body framing");
    }
    // simdjson reads up to SIMDJSON_PADDING bytes past the end of the body.
    request.body().reserve(request.body().size() + simdjson::SIMDJSON_PADDING);
    co_return true;
  }

  // --- step 4: JSON and required fields ------------------------------------------------
  bool parse_body() {
    const std::string& body = parser_.get().body();
    auto parsed = worker_.request_parser().parse(
        endpoint_, simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
    if (!parsed) {
      error_ = parsed.error();
      return false;
    }
    request_ = parsed.value();
    return true;
  }

  // --- step 5: route --------------------------------------------------------------------
  bool resolve_route() {
    auto lookup = runtime_.resolve(*workflow_, request_.model.view());
    route_ = lookup.route;
    if (lookup.status == routing::RouteLookupStatus::not_found) {
      return fail(api::ErrorKind::model_not_found,
                  "unknown model or route; GET /v1/models lists yours", "model");
    }
    if (lookup.status == routing::RouteLookupStatus::not_allowed) {
      return fail(api::ErrorKind::route_not_allowed, "this workflow may not use that route",
                  "model");
    }
    client_.extra_headers().set("x-spendwall-route", route_->name);
    return true;
  }

  // --- step 6: tags and session ---------------------------------------------------------
  bool read_control_headers() {
    const auto& request = parser_.get();
    auto tags = api::parse_tags(request["x-spendwall-tags"]);
    if (!tags) {
      error_ = tags.error();
      return false;
    }
    tags_ = tags.value();
    if (auto session = request.find("x-spendwall-session"); session != request.end()) {
      session_ = session->value();
      if (!api::is_valid_session_id(session_)) {
        return fail(api::ErrorKind::invalid_request,
                    "x-spendwall-session must be 1-128 characters of A-Z a-z 0-9 . _ : -");
      }
    }
    return true;
  }

  // --- step 7: budget ---------------------------------------------------------------------
  /// Reserves the request's worst-case cost against the workflow's windows (and its
  /// session's cap) before anything is forwarded; `on_exceeded` decides what happens
  /// when it does not fit (PRODUCT.md §5). The reservation is settled to the actual
  /// cost when the exchange ends, on every path.
  bool admit_budget() {
    policies::WorkflowBudget* budget = workflow_->budget;
    if (!budget) return true;
    policies::BudgetBook& book = *worker_.control().budgets;
    const policies::InputSize input{request_.input.text_bytes, request_.input.message_count,
                                    request_.input.media_parts};
    auto worst_case = [&](const routing::RouteRuntime& route) {
      return policies::worst_case_cost(
          input, request_.max_output_tokens.value_or(route.default_max_output_tokens),
          route.default_image_tokens, route.reservation_prices);
    };
    policies::AdmissionRequest ask{worst_case(*route_), std::nullopt, session_};
    if (workflow_->downgrade_route) ask.downgrade_amount = worst_case(*workflow_->downgrade_route);
    policies::Admission admission = book.admit(*budget, ask);
    reservation_ = admission.reservation;
    switch (admission.action) {
      case policies::BudgetAction::admit:
        break;
      case policies::BudgetAction::downgrade:
        budget_action_ = metering::BudgetAction::downgraded;
        route_ = workflow_->downgrade_route;
        client_.extra_headers().set("x-spendwall-route", route_->name);
        break;
      case policies::BudgetAction::alert:
        budget_action_ = metering::BudgetAction::alerted;
        break;
      case policies::BudgetAction::block:
        budget_action_ = metering::BudgetAction::blocked;
        // The SDKs' retry logic must not hammer an exhausted budget.
        client_.extra_headers().set("x-should-retry", "false");
        client_.extra_headers().set(http::field::retry_after,
                                    std::to_string(admission.retry_after_seconds));
        set_budget_remaining_header();
        return fail(api::ErrorKind::budget_exceeded,
                    "this workflow's budget is exhausted for the current window; its owner decides "
                    "what next "
                    "(GET /v1/budget shows the limits and the decision rules)");
      case policies::BudgetAction::session_block:
        budget_action_ = metering::BudgetAction::session_blocked;
        client_.extra_headers().set("x-should-retry", "false");
        set_budget_remaining_header();
        return fail(api::ErrorKind::session_cap_exceeded,
                    admission.cause == policies::RefusalCause::session_table_full
                        ? "too many open sessions; retry later without x-spendwall-session or with "
                          "a known one"
                        : "this x-spendwall-session has spent its session_cap");
    }
    set_budget_remaining_header();
    return true;
  }

  void set_budget_remaining_header() {
    if (!workflow_ || !workflow_->budget) return;
    if (auto remaining = worker_.control().budgets->remaining(*workflow_->budget)) {
      client_.extra_headers().set("x-spendwall-budget-remaining-usd",
                                  config::format_usd(*remaining));
    }
  }

  void settle_budget() {
    if (reservation_.active()) worker_.control().budgets->settle(reservation_, cost_);
  }

  // --- step 8: candidates ---------------------------------------------------------------
  /// The targets to try, in order: the route's healthy targets in a weighted random
  /// order, then its healthy fallbacks in config order. Targets cooling down are skipped;
  /// they come last, as a last resort when every healthy candidate failed. Targets whose
  /// provider cannot serve this endpoint are left out: that is not a fallback event.
  bool plan_candidates() {
    auto& plan = buffers_.candidates;
    plan.clear();
    auto now = Clock::now();
    auto eligible = [this](const routing::TargetRuntime& target) {
      switch (delivery(runtime_.provider(target.provider).spec->kind, endpoint_)) {
        case Delivery::native:
          return true;
        case Delivery::translated:
          return translatable();
        case Delivery::impossible:
          return false;
      }
      return false;
    };
    auto healthy = [&](const routing::TargetRuntime& target) {
      return runtime_.health().available(target.health_slot, now);
    };
    // Weighted sampling without replacement among the healthy eligible targets.
    std::uint64_t remaining_weight = 0;
    for (const auto& target : route_->targets) {
      if (eligible(target) && healthy(target)) remaining_weight += target.weight;
    }
    std::size_t first_of_targets = plan.size();
    while (remaining_weight > 0) {
      std::uint64_t pick =
          std::uniform_int_distribution<std::uint64_t>(0, remaining_weight - 1)(worker_.random());
      for (const auto& target : route_->targets) {
        if (!eligible(target) || !healthy(target) || contains(plan, first_of_targets, &target))
          continue;
        if (pick < target.weight) {
          plan.push_back(&target);
          remaining_weight -= target.weight;
          break;
        }
        pick -= target.weight;
      }
    }
    for (const auto& target : route_->fallbacks) {
      if (eligible(target) && healthy(target)) plan.push_back(&target);
    }
    for (const auto& target : route_->targets) {
      if (eligible(target) && !healthy(target)) plan.push_back(&target);
    }
    for (const auto& target : route_->fallbacks) {
      if (eligible(target) && !healthy(target)) plan.push_back(&target);
    }
    if (plan.empty()) {
      if (untranslatable_) {
        error_ = *untranslatable_;
        return false;
      }
      return fail(api::ErrorKind::invalid_request,
                  endpoint_ == Endpoint::messages
                      ? "this route has no target that speaks the Anthropic Messages API"
                      : "this route has no target that speaks this OpenAI endpoint",
                  "model");
    }
    return true;
  }

  /// Whether this request can be translated for a provider of the other API; checked
  /// once, and only when a route actually needs it.
  bool translatable() {
    if (!translation_checked_) {
      translation_checked_ = true;
      const std::string& body = parser_.get().body();
      untranslatable_ = api::untranslatable_feature(
          worker_.translation(), endpoint_,
          simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
    }
    return !untranslatable_;
  }

  static bool contains(const std::vector<const routing::TargetRuntime*>& plan, std::size_t from,
                       const routing::TargetRuntime* target) {
    return std::find(plan.begin() + static_cast<std::ptrdiff_t>(from), plan.end(), target) !=
           plan.end();
  }

  // --- step 9: upstream, with retries and fallbacks -----------------------------------
  /// Tries each candidate up to 1 + `retries` times until one answers. Before any byte
  /// reached the client, a failure whose class the route lists in `fallback_on` moves
  /// on; after that, the response simply ends and is recorded. The request's deadline
  /// bounds the whole chain.
  awaitable<void> forward() {
    const config::RouteSpec& policy = route_->spec ? *route_->spec : kImplicitRoutePolicy;
    const routing::TargetRuntime* previous = nullptr;
    for (const routing::TargetRuntime* target : buffers_.candidates) {
      if (previous) {
        ++fallbacks_;
        client_.extra_headers().set("x-spendwall-fallbacks", std::to_string(fallbacks_));
        worker_.metrics().fallback(
            {.workflow = workflow_->label,
             .route = route_->label,
             .from_provider = previous->provider_label,
             .from_model = previous->model_label,
             .to_provider = target->provider_label,
             .to_model = target->model_label,
             .reason = attempts_.back().failure.value_or(config::FailureClass::server_error)});
      }
      previous = target;
      for (unsigned tries = 0; tries <= policy.retries; ++tries) {
        if (Clock::now() >= deadline_) {
          co_await answer_all_failed();
          co_return;
        }
        AttemptOutcome attempt = co_await try_target(*target);
        count_attempt(attempt);
        if (!attempt.failure || *attempt.failure == config::FailureClass::client_error ||
            attempt.delivered) {
          co_return;
        }
        runtime_.health().record_failure(target->health_slot, Clock::now(), policy.cooldown,
                                         policy.cooldown_after);
        if (!moves_on(policy, *attempt.failure)) {
          co_await answer_all_failed();
          co_return;
        }
        if (tries == policy.retries) break;
        auto wait = retry_wait(policy, attempt, tries);
        if (!wait) {
          // The provider asked for a longer pause than we may wait: rest it, move on.
          runtime_.health().cool_down(target->health_slot, Clock::now() + *attempt.retry_after);
          break;
        }
        net::steady_timer pause(stream_.get_executor());
        pause.expires_at(std::min(deadline_, Clock::now() + *wait));
        co_await pause.async_wait(use_tuple);
      }
    }
    co_await answer_all_failed();
  }

  static bool moves_on(const config::RouteSpec& policy, config::FailureClass cls) {
    return std::find(policy.fallback_on.begin(), policy.fallback_on.end(), cls) !=
           policy.fallback_on.end();
  }

  /// How long to pause before a same-target retry: the provider's Retry-After when it
  /// is within `max_retry_wait` (nullopt when it is longer), else a jittered
  /// exponential backoff.
  std::optional<Clock::duration> retry_wait(const config::RouteSpec& policy,
                                            const AttemptOutcome& attempt, unsigned tries) {
    if (attempt.retry_after) {
      if (*attempt.retry_after > policy.max_retry_wait) return std::nullopt;
      return *attempt.retry_after;
    }
    auto base = kRetryBackoffBase * (1u << std::min(tries, 5u));
    double jitter = std::uniform_real_distribution<double>(0.5, 1.5)(worker_.random());
    return std::chrono::duration_cast<Clock::duration>(base * jitter);
  }

  /// One attempt at one target; its outcome is also appended to `attempts_`.
  awaitable<AttemptOutcome> try_target(const routing::TargetRuntime& target) {
    const routing::ProviderRuntime& provider = runtime_.provider(target.provider);
    const Delivery how = delivery(provider.spec->kind, endpoint_);
    const Endpoint wire = upstream_wire(endpoint_, how);
    bool openai_stream =
        request_.stream && (wire == Endpoint::chat_completions || wire == Endpoint::completions);
    bool inject_usage =
        how == Delivery::native && openai_stream && !request_.include_usage_requested;
    if (how == Delivery::translated) {
      translate_request(target);
    } else {
      api::rewrite_body(parser_.get().body(), request_, target.model, inject_usage,
                        buffers_.upstream_body);
    }

    upstream::UpstreamRequest call;
    call.provider = &provider;
    call.endpoint = wire;
    call.model = target.model;
    call.body = buffers_.upstream_body;
    call.query = query_;
    call.client_headers = &parser_.get().base();
    call.shape = {request_.stream, openai_stream, request_.input.text_bytes,
                  request_.max_output_tokens};
    call.deadline = deadline_;

    target_ = &target;
    client_.extra_headers().set("x-spendwall-provider", provider.spec->name);
    client_.extra_headers().set("x-spendwall-model", target.model);

    tracker_.reset(wire);
    api::StreamTranslator* translator = nullptr;
    if (how == Delivery::translated && request_.stream) {
      translator_.start(metering::api_format(wire), request_.model.view(), unix_seconds_now(),
                        request_.include_usage_requested);
      translator = &translator_;
    }
    RelaySink sink(client_, buffers_, tracker_, provider.spec->max_response_bytes, inject_usage,
                   translator);
    upstream::UpstreamTransport& transport =
        provider.spec->kind == config::ProviderKind::simulated
            ? static_cast<upstream::UpstreamTransport&>(worker_.simulated())
            : http_;
    AttemptOutcome& attempt = attempts_.emplace_back();
    attempt.target = &target;
    attempt.started_at = Clock::now();
    upstream::ExchangeResult result = co_await transport.exchange(call, sink);
    attempt.duration = Clock::now() - attempt.started_at;
    attempt.first_byte_at = sink.first_byte_at();
    if (result.head_received) {
      attempt.status = sink.head().result_int();
      attempt.retry_after = parse_retry_after(sink.head()[http::field::retry_after]);
    }

    if (sink.client_gone()) {
      attempt.delivered = true;
      status_ = kClientClosedRequest;
      usage_ = tracker_.settle(request_.input.text_bytes);
      client_.close_after_response();
      commit_record();
      co_return attempt;
    }
    if (result.failure != upstream::TransportFailure::none) {
      attempt.failure = sink.too_large() || sink.bad_stream()
                            ? config::FailureClass::server_error
                            : routing::classify_transport(result.failure);
      attempt.detail = sink.too_large()    ? "response exceeds max_response_bytes"
                       : sink.bad_stream() ? "event stream framing is broken"
                                           : result.detail;
      if (client_.started()) {
        // Bytes went out: the stream simply ends, metered for what was relayed.
        attempt.delivered = true;
        co_await end_stream();
      }
      co_return attempt;
    }
    if (sink.streaming()) {
      runtime_.health().record_success(target.health_slot);
      error_code flush_ec = co_await sink.flush_stream();
      if (flush_ec) {
        status_ = kClientClosedRequest;
        usage_ = tracker_.settle(request_.input.text_bytes);
        client_.close_after_response();
        commit_record();
        co_return attempt;
      }
      co_await end_stream();
      co_return attempt;
    }
    attempt.failure = routing::classify_status(attempt.status, buffers_.response_body);
    if (!attempt.failure && !metering::is_complete_json_object(buffers_.response_body)) {
      attempt.failure = config::FailureClass::server_error;
      attempt.detail = "provider answered 2xx with a body that is not the JSON it claims";
    }
    if (attempt.failure && *attempt.failure != config::FailureClass::client_error) {
      if (attempt.detail.empty()) attempt.detail = "provider answered with an error";
      if (attempt.status == 429 || attempt.status >= 500) last_error_status_ = attempt.status;
      co_return attempt;
    }
    if (!attempt.failure) {
      runtime_.health().record_success(target.health_slot);
      meter_buffered_response(wire);
    }
    // A provider's own 4xx (not a fallback class) goes back unchanged, in the client's format.
    status_ = attempt.status;
    std::string_view answer = buffers_.response_body;
    if (how == Delivery::translated) answer = translate_response(wire, !attempt.failure);
    commit_record();
    error_code relay_ec = co_await client_.relay(sink.head(), answer);
    if (relay_ec) client_.close_after_response();
    co_return attempt;
  }

  /// Ends a started stream: the record reaches the ledger before the last chunk does.
  awaitable<void> end_stream() {
    usage_ = tracker_.settle(request_.input.text_bytes);
    status_ = client_.status();
    commit_record();
    error_code ec = co_await client_.end_stream();
    if (ec) client_.close_after_response();
  }

  /// The request in the other API's format, for a target of the other kind. The
  /// translation check already passed, so this cannot refuse.
  void translate_request(const routing::TargetRuntime& target) {
    const std::string& body = parser_.get().body();
    simdjson::padded_string_view padded(body.data(), body.size(), body.capacity());
    if (endpoint_ == Endpoint::chat_completions) {
      api::openai_chat_to_anthropic_request(worker_.translation(), padded, target.model,
                                            route_->default_max_output_tokens,
                                            buffers_.upstream_body);
    } else {
      api::anthropic_to_openai_chat_request(worker_.translation(), padded, target.model,
                                            buffers_.upstream_body);
    }
  }

  /// A buffered answer of the other API, re-encoded for the client.
  std::string_view translate_response(Endpoint wire, bool success) {
    std::string& body = buffers_.response_body;
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    simdjson::padded_string_view padded(body.data(), body.size(), body.capacity());
    std::string& out = buffers_.translated_body;
    out.clear();
    auto& workspace = worker_.translation();
    if (!success) {
      api::translate_error_body(workspace, metering::api_format(wire), status_, body, out);
      return out;
    }
    auto translated =
        endpoint_ == Endpoint::chat_completions
            ? api::anthropic_to_openai_chat_response(workspace, padded, request_.model.view(),
                                                     unix_seconds_now(), out)
            : api::openai_chat_to_anthropic_response(workspace, padded, request_.model.view(), out);
    if (!translated) {
      // The provider's answer is not what its API promises: say so in the client's format.
      api::write_error_body(format_, translated.error().kind, translated.error().message, {}, out);
    }
    return out;
  }

  void meter_buffered_response(Endpoint wire) {
    std::string& body = buffers_.response_body;
    // The body was read into a std::string whose capacity may lack simdjson's padding.
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    simdjson::padded_string_view padded(body.data(), body.size(), body.capacity());
    auto& extractor = worker_.usage_extractor();
    if (auto reported = extractor.from_body(wire, padded)) {
      usage_ = {*reported, metering::UsageSource::reported};
    } else {
      auto content_bytes = extractor.content_bytes_of_body(wire, padded);
      usage_ = {metering::estimate_usage(request_.input.text_bytes, content_bytes),
                metering::UsageSource::estimated};
    }
    cost_ = metering::cost_nano_usd(usage_.tokens, target_->price);
    client_.extra_headers().set("x-spendwall-cost-usd", config::format_usd(cost_));
  }

  /// Every target failed before a byte reached the client (PRODUCT.md §2 error table):
  /// the most recent 429/5xx status an attempt got, else 504 after a timeout, else 502;
  /// the message names each target tried and how it failed.
  awaitable<void> answer_all_failed() {
    config::FailureClass last_class = config::FailureClass::timeout;
    std::string message = "every target of route '" + route_->name + "' failed:";
    for (const AttemptOutcome& attempt : attempts_) {
      last_class = attempt.failure.value_or(config::FailureClass::server_error);
      message += ' ';
      message += runtime_.provider(attempt.target->provider).spec->name;
      message += '/';
      message += attempt.target->model;
      message += " (";
      message += routing::failure_label(last_class);
      if (attempt.status != 0) message += ", HTTP " + std::to_string(attempt.status);
      if (!attempt.detail.empty()) {
        message += ": ";
        message += attempt.detail;
      }
      message += ");";
    }
    if (attempts_.empty()) message += " the request deadline passed before any attempt;";
    message.pop_back();
    unsigned status = last_error_status_                            ? last_error_status_
                      : last_class == config::FailureClass::timeout ? 504u
                                                                    : 502u;
    api::write_upstream_error_body(format_, upstream_error_kind(last_class), status, message,
                                   buffers_.scratch);
    status_ = status;
    commit_record();
    error_code ec = co_await client_.send(static_cast<http::status>(status), "application/json",
                                          buffers_.scratch);
    if (ec) client_.close_after_response();
  }

  /// `POST /v1/feedback` (PRODUCT.md §6): the outcome of an earlier request of this
  /// workflow, stored on its ledger record. The database work runs on the control
  /// thread, so this worker keeps serving meanwhile.
  awaitable<void> record_feedback() {
    const std::string& body = parser_.get().body();
    auto parsed = api::parse_feedback(
        worker_.json_parser(),
        simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
    if (!parsed) {
      error_ = parsed.error();
      co_await reject();
      co_return;
    }
    const auto& allowed = runtime_.snapshot().alerts.outcomes;
    if (std::find(allowed.begin(), allowed.end(), parsed->outcome) == allowed.end()) {
      fail(api::ErrorKind::unknown_outcome, "outcome is not one of the names in alerts.outcomes",
           "outcome");
      co_await reject();
      co_return;
    }
    metering::Outcome outcome{parsed->outcome, parsed->score, parsed->note,
                              std::chrono::system_clock::now()};
    metering::ledger::Ledger* ledger = worker_.control().ledger;
    metering::OutcomeMetrics* counters = worker_.control().outcomes;
    auto store = [ledger, counters, id = parsed->request_id, workflow = workflow_->spec->name,
                  outcome,
                  replace = parsed->replace]() -> awaitable<metering::ledger::OutcomeResult> {
      auto stored = ledger->set_outcome(id, workflow, outcome, replace);
      if (stored == metering::ledger::OutcomeResult::ok) {
        auto record = ledger->find(id);
        counters->count(workflow, outcome.outcome, record ? record->cost : 0);
      }
      co_return stored;
    };
    auto [failure, result] =
        co_await net::co_spawn(worker_.control().executor, std::move(store), use_tuple);
    if (failure) result = metering::ledger::OutcomeResult::failed;
    switch (result) {
      case metering::ledger::OutcomeResult::ok:
        break;
      case metering::ledger::OutcomeResult::not_found:
        fail(api::ErrorKind::request_not_found, "no request with that id", "request_id");
        break;
      case metering::ledger::OutcomeResult::not_yours:
        fail(api::ErrorKind::not_your_request, "that request belongs to another workflow",
             "request_id");
        break;
      case metering::ledger::OutcomeResult::exists:
        fail(api::ErrorKind::outcome_exists,
             "an outcome is already recorded; send \"replace\": true to change it", "outcome");
        break;
      case metering::ledger::OutcomeResult::failed:
        fail(api::ErrorKind::internal, "the ledger could not store the outcome; try again", "");
        break;
    }
    if (error_) {
      co_await reject();
      co_return;
    }
    std::string& out = buffers_.scratch;
    out.clear();
    metering::JsonWriter json(out);
    json.begin_object()
        .key("request_id")
        .string(parsed->request_id)
        .key("outcome")
        .string(parsed->outcome)
        .key("recorded")
        .boolean(true)
        .end_object();
    status_ = 200;
    error_code ec = co_await client_.send(http::status::ok, "application/json", out);
    if (ec) client_.close_after_response();
  }

  /// `GET /v1/budget`: the calling workflow's own windows, session and decision rules,
  /// so an application or an agent can govern itself. Budget views are control-thread
  /// state, so they are read there.
  awaitable<void> describe_budget() {
    const auto& request = parser_.get();
    std::string session;
    if (auto header = request.find("x-spendwall-session"); header != request.end()) {
      if (!api::is_valid_session_id(header->value())) {
        fail(api::ErrorKind::invalid_request,
             "x-spendwall-session must be 1-128 characters of A-Z a-z 0-9 . _ : -");
        co_await reject();
        co_return;
      }
      session = header->value();
    }
    policies::BudgetBook* book = worker_.control().budgets;
    auto render = [book, workflow = workflow_->spec->name,
                   session = std::move(session)]() -> awaitable<std::string> {
      std::string body;
      auto view = book->view(workflow);
      if (!view) co_return body;
      std::optional<policies::SessionView> session_view;
      if (!session.empty()) session_view = book->session_view(workflow, session);
      metering::JsonWriter json(body);
      policies::write_workflow_budget_json(*view, session_view, json);
      co_return body;
    };
    auto [failure, body] =
        co_await net::co_spawn(worker_.control().executor, std::move(render), use_tuple);
    if (failure || body.empty()) {
      fail(api::ErrorKind::internal, "budget state is not available; try again");
      co_await reject();
      co_return;
    }
    status_ = 200;
    error_code ec = co_await client_.send(http::status::ok, "application/json", body);
    if (ec) client_.close_after_response();
  }

  awaitable<void> list_models() {
    std::string& out = buffers_.scratch;
    out.clear();
    api::JsonWriter json(out);
    json.begin_object().key("object").string("list").key("data").begin_array();
    for (const auto& route : runtime_.routes()) {
      if (!workflow_->allowed_routes[route.id]) continue;
      json.begin_object()
          .key("id")
          .string(route.name)
          .key("object")
          .string("model")
          .key("created")
          .integer(0)
          .key("owned_by")
          .string("spendwall")
          .end_object();
    }
    json.end_array().end_object();
    status_ = 200;
    error_code ec = co_await client_.send(http::status::ok, "application/json", out);
    if (ec) client_.close_after_response();
  }

  // --- the ledger record ------------------------------------------------------------------
  /// Writes the request's ledger record (once). Called just before the response's last
  /// byte is written, so a delivered response always has its record in the OS.
  void commit_record() {
    if (record_committed_ || !workflow_ || !metering::is_metered(endpoint_)) return;
    record_committed_ = true;
    if (target_ && usage_.tokens.total() > 0)
      cost_ = metering::cost_nano_usd(usage_.tokens, target_->price);
    settle_budget();

    metering::RequestRecord& record = buffers_.record;
    auto now = Clock::now();
    record.id = request_id_.view();
    record.started_at = started_wall_;
    record.finished_at =
        started_wall_ +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(now - started_at_);
    record.workflow = workflow_->spec->name;
    record.route = route_ ? std::string_view(route_->name) : std::string_view();
    record.provider = target_ ? std::string_view(runtime_.provider(target_->provider).spec->name)
                              : std::string_view();
    record.model = target_ ? std::string_view(target_->model) : std::string_view();
    record.endpoint = endpoint_;
    record.stream = request_.stream;
    record.status = status_;
    record.tokens = usage_.tokens;
    record.usage_source = usage_.source;
    record.cost = cost_;
    record.latency_ms = milliseconds(now - started_at_);
    record.ttft_ms.reset();
    record.attempts.clear();
    for (const AttemptOutcome& attempt : attempts_) {
      metering::AttemptRecord& entry = record.attempts.emplace_back();
      entry.provider = runtime_.provider(attempt.target->provider).spec->name;
      entry.model = attempt.target->model;
      entry.result =
          attempt.failure ? routing::failure_label(*attempt.failure) : std::string_view("ok");
      entry.status = attempt.status;
      entry.duration_ms = milliseconds(attempt.duration);
      if (attempt.first_byte_at && !record.ttft_ms)
        record.ttft_ms = milliseconds(*attempt.first_byte_at - started_at_);
    }
    record.fallbacks = fallbacks_;
    record.budget_action = budget_action_;
    if (session_.empty()) {
      record.session.reset();
    } else {
      record.session = std::string(session_);
    }
    record.tags.clear();
    for (const api::Tag& tag : tags_) record.tags.emplace_back(tag.key, tag.value);
    record.outcome.reset();
    count_request(now);
    if (!worker_.ledger_writer().append(record)) {
      log::error(
          "ledger write failed; the record is counted in spendwall_ledger_write_errors_total",
          {{"request_id", request_id_.view()}, {"error", worker_.ledger_writer().last_error()}});
    }
  }

  void count_request(Clock::time_point finished) {
    Clock::duration upstream{};
    for (const AttemptOutcome& attempt : attempts_) upstream += attempt.duration;
    worker_.metrics().request_finished({
        .workflow = workflow_->label,
        .route = route_ ? route_->label : metering::kUnresolvedLabel,
        .provider = target_ ? target_->provider_label : metering::kUnresolvedLabel,
        .model = target_ ? target_->model_label : metering::kUnresolvedLabel,
        .endpoint = endpoint_,
        .status = static_cast<std::uint16_t>(status_),
        .tokens = usage_.tokens,
        .cost = cost_,
        .usage_estimated = usage_.source == metering::UsageSource::estimated,
        .proxy_overhead = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::max(Clock::duration::zero(), finished - started_at_ - upstream)),
    });
  }

  void count_attempt(const AttemptOutcome& attempt) {
    const routing::TargetRuntime& target = *attempt.target;
    std::optional<std::chrono::nanoseconds> ttft;
    if (attempt.first_byte_at)
      ttft = std::chrono::duration_cast<std::chrono::nanoseconds>(*attempt.first_byte_at -
                                                                  attempt.started_at);
    worker_.metrics().attempt_finished({
        .provider = target.provider_label,
        .model = target.model_label,
        .result = attempt.failure ? metering::attempt_result(*attempt.failure)
                                  : metering::AttemptResult::ok,
        .duration = std::chrono::duration_cast<std::chrono::nanoseconds>(attempt.duration),
        .time_to_first_token = ttft,
    });
    const routing::ProviderRuntime& provider = runtime_.provider(target.provider);
    if (provider.spec->kind != config::ProviderKind::simulated) {
      auto counts = http_.counts(provider.id);
      worker_.metrics().upstream_connections_set(provider.label, counts.idle, counts.active);
    }
  }

  static double milliseconds(Clock::duration duration) {
    return std::chrono::duration<double, std::milli>(duration).count();
  }

  // --- answering refusals ---------------------------------------------------------------
  bool fail(api::ErrorKind kind, std::string_view message, std::string_view param = {}) {
    error_ = api::ApiError{kind, message, param};
    return false;
  }

  bool close_silently() {
    silent_close_ = true;
    return false;
  }

  awaitable<void> reject() {
    if (silent_close_) co_return;
    // A body we did not read would be taken for the next request: close instead.
    if (!parser_.is_done()) client_.close_after_response();
    api::write_error_body(format_, error_->kind, error_->message, error_->param, buffers_.scratch);
    auto status =
        status_override_.value_or(static_cast<http::status>(api::error_spec(error_->kind).status));
    status_ = static_cast<unsigned>(status);
    if (error_->kind == api::ErrorKind::method_not_allowed) {
      client_.extra_headers().set(http::field::allow, expects_post(endpoint_) ? "POST" : "GET");
    }
    commit_record();
    error_code ec = co_await client_.send(status, "application/json", buffers_.scratch);
    if (ec) client_.close_after_response();
  }

  Worker& worker_;
  const routing::RuntimeConfig& runtime_;
  upstream::HttpTransport& http_;
  const config::ServerSpec& limits_;
  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::string_body>& parser_;
  ExchangeBuffers& buffers_;
  Clock::time_point started_at_;
  std::chrono::system_clock::time_point started_wall_;
  Clock::time_point deadline_;
  ClientWriter client_;
  metering::StreamUsageTracker tracker_;

  RequestId request_id_;
  Endpoint endpoint_ = Endpoint::other;
  metering::ApiFormat format_ = metering::ApiFormat::openai;
  std::string_view query_;
  const routing::WorkflowRuntime* workflow_ = nullptr;
  api::ParsedRequest request_;
  const routing::RouteRuntime* route_ = nullptr;
  const routing::TargetRuntime* target_ = nullptr;  ///< the latest target tried
  std::vector<AttemptOutcome> attempts_;
  std::uint32_t fallbacks_ = 0;
  unsigned last_error_status_ = 0;  ///< the most recent 429/5xx an attempt got
  api::Tags tags_;
  std::string_view session_;
  policies::Reservation reservation_;
  metering::BudgetAction budget_action_ = metering::BudgetAction::none;
  bool record_committed_ = false;
  bool translation_checked_ = false;
  std::optional<api::ApiError> untranslatable_;
  api::StreamTranslator translator_;
  std::optional<api::ApiError> error_;
  std::optional<http::status> status_override_;
  bool silent_close_ = false;
  unsigned status_ = 0;
  metering::MeteredUsage usage_;
  config::NanoUsd cost_ = 0;
};

}  // namespace

awaitable<bool> handle_request(Worker& worker, Generation& generation, beast::tcp_stream& stream,
                               beast::flat_buffer& buffer,
                               http::request_parser<http::string_body>& parser,
                               ExchangeBuffers& buffers) {
  Exchange exchange(worker, generation, stream, buffer, parser, buffers);
  bool keep_alive = co_await exchange.run();
  co_return keep_alive;
}

}  // namespace spendwall::proxy::server
