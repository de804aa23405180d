#include "proxy/alerts/alert_outbox.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>

#include <prometheus/metric_family.h>

#include "metering/json_writer.hpp"
#include "metering/metric_names.hpp"
#include "proxy/alerts/http_post.hpp"
#include "proxy/log.hpp"

namespace spendwall::proxy::alerts {
namespace {

constexpr auto kMaxRetryDelay = std::chrono::minutes(5);
constexpr auto kPostTimeout = std::chrono::seconds(10);

constexpr std::array<std::string_view, 3> kResultLabels{"ok", "retry", "failed"};

void add_family(const metering::MetricDef& def,
                const std::map<std::pair<std::string, std::string>, std::uint64_t>& series,
                std::vector<prometheus::MetricFamily>& out) {
  if (series.empty()) return;
  prometheus::MetricFamily& family = out.emplace_back();
  family.name = def.name;
  family.help = def.help;
  family.type = def.type;
  for (const auto& [labels, count] : series) {
    prometheus::ClientMetric& metric = family.metric.emplace_back();
    metric.label = {{std::string(def.labels[0]), labels.first},
                    {std::string(def.labels[1]), labels.second}};
    metric.counter.value = static_cast<double>(count);
  }
}

std::string usd_text(double usd) {
  char text[32];
  std::snprintf(text, sizeof text, "$%.2f", usd);
  return text;
}

std::shared_ptr<ssl::context> make_tls_context() {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  context->set_verify_mode(ssl::verify_peer);
  error_code ec;
  context->set_default_verify_paths(ec);
  if (ec) log::warn("alert sinks: cannot load the system trust store", {{"error", ec.message()}});
  return context;
}

}  // namespace

void AlertMetrics::count_exception(std::string_view workflow, std::string_view kind) {
  ++exceptions_[{std::string(workflow), std::string(kind)}];
}

void AlertMetrics::count_delivery(std::string_view sink, DeliveryResult result) {
  ++deliveries_[{std::string(sink), std::string(kResultLabels[static_cast<std::size_t>(result)])}];
}

std::vector<prometheus::MetricFamily> AlertMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  add_family(metering::metric_def("spendwall_alert_deliveries_total"), deliveries_, families);
  add_family(metering::metric_def("spendwall_exceptions_total"), exceptions_, families);
  return families;
}

std::chrono::seconds retry_delay(std::uint32_t attempts) {
  const std::uint32_t doublings = std::min<std::uint32_t>(attempts == 0 ? 0 : attempts - 1, 16);
  return std::min<std::chrono::seconds>(std::chrono::seconds(std::int64_t{1} << doublings),
                                        kMaxRetryDelay);
}

std::string slack_body(std::string_view event_json) {
  simdjson::padded_string padded(event_json);
  simdjson::dom::parser parser;
  simdjson::dom::element event;
  std::string text;
  if (parser.parse(padded).get(event) != simdjson::SUCCESS) {
    text = "Spendwall budget exception (unreadable event)";
  } else {
    auto field = [&event](const char* name) {
      std::string_view value;
      return event[name].get(value) == simdjson::SUCCESS ? std::string(value) : std::string();
    };
    double spent = 0.0;
    double limit = 0.0;
    if (event["spent_usd"].get(spent) != simdjson::SUCCESS) spent = 0.0;
    const bool has_limit = event["limit_usd"].get(limit) == simdjson::SUCCESS;
    text = "Spendwall budget exception: " + field("kind") + " on workflow " + field("workflow");
    text += "\nOwner: " + field("owner") + " (" + field("contact") + ")";
    text += "\nSpent: " + usd_text(spent) + (has_limit ? " of " + usd_text(limit) : " (no limit)") +
            " " + field("window");
    simdjson::dom::array providers;
    simdjson::dom::object top;
    if (event["providers"].get(providers) == simdjson::SUCCESS && providers.size() > 0 &&
        providers.at(0).get(top) == simdjson::SUCCESS) {
      std::string_view provider;
      double provider_spent = 0.0;
      if (top["provider"].get(provider) != simdjson::SUCCESS) provider = "unknown";
      if (top["spent_usd"].get(provider_spent) != simdjson::SUCCESS) provider_spent = 0.0;
      text += "\nTop provider: " + std::string(provider) + " (" + usd_text(provider_spent) + ")";
    }
    text += "\nNext action: " + field("next_action");
  }
  std::string body;
  metering::JsonWriter json(body);
  json.begin_object().key("text").string(text).end_object();
  return body;
}

AlertOutbox::AlertOutbox(net::any_io_executor executor, metering::ledger::Ledger& ledger,
                         AlertMetrics& metrics)
    : executor_(std::move(executor)),
      ledger_(ledger),
      metrics_(metrics),
      tls_(make_tls_context()) {}

void AlertOutbox::apply(const config::AlertsSpec& alerts) {
  sinks_.clear();
  for (const config::SinkSpec& sink : alerts.sinks) sinks_.emplace(sink.name, sink);
}

std::vector<std::string> AlertOutbox::sink_names() const {
  std::vector<std::string> names;
  for (const auto& [name, sink] : sinks_) names.push_back(name);
  return names;
}

void AlertOutbox::tick(std::chrono::system_clock::time_point now) {
  for (metering::ledger::PendingDelivery& pending : ledger_.pending_deliveries()) {
    metering::ledger::Delivery& delivery = pending.delivery;
    auto sink = sinks_.find(delivery.sink);
    if (sink == sinks_.end()) {
      if (in_flight_.contains({delivery.exception_id, delivery.sink})) continue;
      // Retrying forever to a destination nobody configures any more would grow the outbox
      // without end; the event itself stays in the ledger and in /admin/exceptions.
      abandon(std::move(delivery), "the sink is no longer in the config");
      continue;
    }
    if (delivery.next_attempt_at > now) continue;
    if (!in_flight_.emplace(delivery.exception_id, delivery.sink).second) continue;
    const config::SinkSpec& spec = sink->second;
    switch (spec.kind) {
      case config::SinkKind::log:
        log::info("budget exception",
                  {{"sink", spec.name}, {"event", log::RawJson{pending.event_json}}});
        finish(std::move(delivery), true, {});
        break;
      case config::SinkKind::webhook:
      case config::SinkKind::slack: {
        std::string body = spec.kind == config::SinkKind::slack ? slack_body(pending.event_json)
                                                                : std::move(pending.event_json);
        post(executor_, tls_, spec.url, spec.headers, std::move(body), kPostTimeout,
             [this, delivery = std::move(delivery)](PostResult result) mutable {
               std::string error = result.ok()          ? std::string()
                                   : result.status != 0 ? "HTTP " + std::to_string(result.status)
                                                        : std::move(result.error);
               finish(std::move(delivery), result.ok(), error);
             });
        break;
      }
    }
  }
}

void AlertOutbox::finish(metering::ledger::Delivery delivery, bool delivered,
                         std::string_view error) {
  in_flight_.erase({delivery.exception_id, delivery.sink});
  ++delivery.attempts;
  DeliveryResult result = DeliveryResult::ok;
  if (delivered) {
    delivery.state = metering::ledger::DeliveryState::delivered;
  } else if (delivery.attempts >= kMaxDeliveryAttempts) {
    abandon(std::move(delivery), error);
    return;
  } else {
    delivery.next_attempt_at = std::chrono::system_clock::now() + retry_delay(delivery.attempts);
    result = DeliveryResult::retry;
    log::warn("alert delivery failed; will retry",
              {{"sink", delivery.sink},
               {"exception", delivery.exception_id},
               {"error", error},
               {"attempts", static_cast<std::int64_t>(delivery.attempts)}});
  }
  metrics_.count_delivery(delivery.sink, result);
  // A lost update only means one more attempt after the next tick: at least once.
  ledger_.update_delivery(delivery);
}

void AlertOutbox::abandon(metering::ledger::Delivery delivery, std::string_view error) {
  delivery.state = metering::ledger::DeliveryState::failed;
  log::error("alert delivery failed; giving up",
             {{"sink", delivery.sink},
              {"exception", delivery.exception_id},
              {"error", error},
              {"attempts", static_cast<std::int64_t>(delivery.attempts)}});
  metrics_.count_delivery(delivery.sink, DeliveryResult::failed);
  ledger_.update_delivery(delivery);
}

}  // namespace spendwall::proxy::alerts
