#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>

#include "config/config.hpp"
#include "metering/ledger/ledger.hpp"
#include "proxy/net.hpp"

/// Delivery of budget exceptions to the `alerts.sinks` of config.md (PRODUCT.md §5): at
/// least once to every sink, from the ledger's outbox, so that what a restart or a
/// failing receiver interrupted is sent later. Each sink retries with exponential backoff
/// (1 s doubling up to 5 min) and gives up after kMaxDeliveryAttempts.
///
/// Thread-safety: AlertMetrics and AlertOutbox belong to the control thread (the admin
/// plane scrapes there too). Nothing here runs on a worker, so no request waits on it.
namespace spendwall::proxy::alerts {

inline constexpr std::uint32_t kMaxDeliveryAttempts = 10;

enum class DeliveryResult : std::uint8_t { ok, retry, failed };

/// `spendwall_exceptions_total{workflow,kind}` and
/// `spendwall_alert_deliveries_total{sink,result}`.
class AlertMetrics final : public prometheus::Collectable {
 public:
  void count_exception(std::string_view workflow, std::string_view kind);
  void count_delivery(std::string_view sink, DeliveryResult result);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  using Series = std::map<std::pair<std::string, std::string>, std::uint64_t>;
  Series exceptions_;
  Series deliveries_;
};

/// The wait before attempt `attempts + 1`, after `attempts` failed ones.
std::chrono::seconds retry_delay(std::uint32_t attempts);

/// The Slack incoming-webhook body (`{"text": …}`) for an admin-api.md event: kind,
/// workflow, owner, contact, spent / limit, top provider and next action.
std::string slack_body(std::string_view event_json);

class AlertOutbox {
 public:
  AlertOutbox(net::any_io_executor executor, metering::ledger::Ledger& ledger,
              AlertMetrics& metrics);

  /// Takes the (reloaded) sinks. A pending delivery to a sink that is no longer configured
  /// is given up (state failed, counted and logged) at the next tick.
  void apply(const config::AlertsSpec& alerts);
  /// The sink names a new exception is queued for.
  std::vector<std::string> sink_names() const;

  /// Starts every delivery that is due and not already in flight.
  void tick(std::chrono::system_clock::time_point now);

 private:
  void finish(metering::ledger::Delivery delivery, bool delivered, std::string_view error);
  /// Marks `delivery` failed for good.
  void abandon(metering::ledger::Delivery delivery, std::string_view error);

  net::any_io_executor executor_;
  metering::ledger::Ledger& ledger_;
  AlertMetrics& metrics_;
  std::shared_ptr<ssl::context> tls_;
  std::map<std::string, config::SinkSpec, std::less<>> sinks_;
  std::set<std::pair<std::string, std::string>> in_flight_;  ///< (exception id, sink)
};

}  // namespace spendwall::proxy::alerts
