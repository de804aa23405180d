#include "metering/label_table.hpp"

namespace spendwall::metering {

LabelTable::LabelTable() {
  const std::lock_guard lock(mutex_);
  intern_locked("");                // kUnresolvedLabel
  intern_locked(kOtherLabelValue);  // kOtherLabel
}

LabelId LabelTable::intern(std::string_view value) {
  const std::lock_guard lock(mutex_);
  return intern_locked(value);
}

LabelId LabelTable::intern_locked(std::string_view value) {
  if (auto found = ids_.find(value); found != ids_.end()) return found->second;
  if (values_.size() == kMaxLabels) return kOtherLabel;
  const auto id = static_cast<LabelId>(values_.size());
  const std::string& stored = values_.emplace_back(value);
  ids_.emplace(stored, id);
  return id;
}

void LabelTable::intern_names_of(const config::ConfigSnapshot& snapshot) {
  const std::lock_guard lock(mutex_);
  for (const auto& workflow : snapshot.workflows) intern_locked(workflow.name);
  for (const auto& route : snapshot.routes) intern_locked(route.name);
  for (const auto& provider : snapshot.providers) intern_locked(provider.name);
  for (const auto& route : snapshot.routes) {
    for (const auto& target : route.targets) intern_locked(target.model);
    for (const auto& target : route.fallbacks) intern_locked(target.model);
  }
  for (const auto& price : snapshot.prices) intern_locked(price.model);
}

std::string_view LabelTable::name(LabelId id) const {
  const std::lock_guard lock(mutex_);
  return id < values_.size() ? std::string_view(values_[id]) : kOtherLabelValue;
}

std::vector<std::string_view> LabelTable::names() const {
  const std::lock_guard lock(mutex_);
  return {values_.begin(), values_.end()};
}

std::size_t LabelTable::size() const {
  const std::lock_guard lock(mutex_);
  return values_.size();
}

}  // namespace spendwall::metering
