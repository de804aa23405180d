#include "metering/json_text.hpp"

#include <utility>

namespace spendwall::metering {

namespace ondemand = simdjson::ondemand;

namespace {
bool is_text_key(TextKeys keys, std::string_view key) noexcept {
  for (std::string_view text_key : keys) {
    if (text_key == key) return true;
  }
  return false;
}
}  // namespace

bool add_text_bytes(ondemand::object& object, TextKeys keys, std::uint64_t& bytes) {
  for (auto member : object) {
    ondemand::field field;
    std::string_view key;
    ondemand::json_type type;
    if (std::move(member).get(field) || field.unescaped_key().get(key) ||
        field.value().type().get(type)) {
      return false;
    }
    if (type == ondemand::json_type::string && is_text_key(keys, key)) {
      std::string_view text;
      if (field.value().get_string().get(text)) return false;
      bytes += text.size();
    } else if (!add_text_bytes(field.value(), keys, bytes)) {
      return false;
    }
  }
  return true;
}

bool add_text_bytes(ondemand::value& value, TextKeys keys, std::uint64_t& bytes) {
  ondemand::json_type type;
  if (value.type().get(type)) return false;
  if (type == ondemand::json_type::object) {
    ondemand::object object;
    return !value.get_object().get(object) && add_text_bytes(object, keys, bytes);
  }
  if (type == ondemand::json_type::array) {
    ondemand::array array;
    if (value.get_array().get(array)) return false;
    for (auto element_result : array) {
      ondemand::value element;
      if (element_result.get(element) || !add_text_bytes(element, keys, bytes)) return false;
    }
  }
  return true;  // a scalar: the iterator skips it
}

}  // namespace spendwall::metering
