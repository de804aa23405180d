#include "metering/report/svg_chart.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "config/units.hpp"
#include "metering/report/render_format.hpp"

namespace spendwall::metering::report::svg {
namespace {

// Tableau 10: distinct for the common colour-vision deficiencies; the last is `other`.
constexpr std::array<std::string_view, kMaxSeries + 1> kPalette{"#4e79a7", "#f28e2b", "#e15759",
                                                                "#76b7b2", "#59a14f", "#edc948",
                                                                "#b07aa1", "#ff9da7", "#bab0ac"};
constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
/// Longest label drawn beside a bar, in code points.
constexpr std::size_t kMaxLabel = 26;

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

/// A tick step of 1, 2 or 5 × 10^k nano-USD that splits `range` into at most `ticks` steps.
config::NanoUsd tick_step(config::NanoUsd range, int ticks) {
  const config::NanoUsd wanted = std::max<config::NanoUsd>(1, (range + ticks - 1) / ticks);
  for (config::NanoUsd power = 1;; power *= 10) {
    for (config::NanoUsd factor : {1, 2, 5}) {
      if (factor * power >= wanted) return factor * power;
    }
  }
}

std::string short_date(std::chrono::sys_days day) {
  const std::chrono::year_month_day date{day};
  char text[16];
  std::snprintf(text, sizeof text, "%s %02u",
                kMonths[static_cast<unsigned>(date.month()) - 1].data(),
                static_cast<unsigned>(date.day()));
  return text;
}

std::string iso_date(std::chrono::sys_days day) {
  return format_timestamp(std::chrono::sys_seconds(day)).substr(0, 10);
}

/// `text` cut to `limit` code points, with an ellipsis when cut.
std::string truncated(std::string_view text, std::size_t limit) {
  std::size_t points = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (points++ == limit) return std::string(text.substr(0, i)) + "\u2026";
  }
  return std::string(text);
}

void open_svg(std::string& out, std::string_view id, std::string_view description, double width,
              double height) {
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" data-chart=\"";
  escape(id, out);
  out += "\" role=\"img\" aria-label=\"";
  escape(description, out);
  out += "\" viewBox=\"0 0 " + number(width) + " " + number(height) + "\" width=\"" +
         number(width) + "\" height=\"" + number(height) + "\">\n";
}

void text(std::string& out, double x, double y, std::string_view anchor, std::string_view content,
          std::string_view css_class = "") {
  out += "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" text-anchor=\"";
  out += anchor;
  out += "\"";
  if (!css_class.empty()) {
    out += " class=\"";
    out += css_class;
    out += "\"";
  }
  out += ">";
  escape(content, out);
  out += "</text>\n";
}

void bar(std::string& out, double x, double y, double width, double height, std::string_view colour,
         std::string_view data, std::string_view tooltip) {
  out += "<rect class=\"bar\" x=\"" + number(x) + "\" y=\"" + number(y) + "\" width=\"" +
         number(width) + "\" height=\"" + number(height) + "\" fill=\"";
  out += colour;
  out += "\"";
  out += data;
  out += "><title>";
  escape(tooltip, out);
  out += "</title></rect>\n";
}

/// The largest series keep their colour; the rest become one `other` series.
std::vector<ChartData::Series> drawn_series(const ChartData& charts) {
  std::vector<ChartData::Series> series = charts.workflow_days;
  if (series.size() <= kMaxSeries + 1) return series;
  ChartData::Series other{"other", std::vector<config::NanoUsd>(charts.days.size(), 0)};
  for (std::size_t i = kMaxSeries; i < series.size(); ++i) {
    for (std::size_t day = 0; day < other.daily_spend.size(); ++day) {
      other.daily_spend[day] += series[i].daily_spend[day];
    }
  }
  series.resize(kMaxSeries);
  series.push_back(std::move(other));
  return series;
}

}  // namespace

void escape(std::string_view content, std::string& out) {
  for (char c : content) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

std::string escaped(std::string_view content) {
  std::string out;
  escape(content, out);
  return out;
}

std::string daily_spend_chart(const ChartData& charts) {
  constexpr double kWidth = 1100;
  constexpr double kHeight = 300;
  constexpr double kLeft = 76;
  constexpr double kRight = 12;
  constexpr double kTop = 14;
  constexpr double kBottom = 34;
  constexpr int kTicks = 4;
  const double plot_width = kWidth - kLeft - kRight;
  const double plot_height = kHeight - kTop - kBottom;
  const double baseline = kTop + plot_height;

  const std::vector<ChartData::Series> series = drawn_series(charts);
  const std::size_t days = charts.days.size();
  std::vector<config::NanoUsd> day_totals(days, 0);
  for (const auto& one : series) {
    for (std::size_t day = 0; day < days; ++day) day_totals[day] += one.daily_spend[day];
  }
  const config::NanoUsd largest =
      days == 0 ? 0 : *std::max_element(day_totals.begin(), day_totals.end());

  std::string out;
  open_svg(out, "daily-spend", "Spend per workflow per UTC day", kWidth, kHeight);
  if (largest <= 0) {
    text(out, kWidth / 2, kHeight / 2, "middle", "No spend in this period", "empty");
    out += "</svg>\n";
    return out;
  }

  const config::NanoUsd step = tick_step(largest, kTicks);
  const config::NanoUsd top = (largest + step - 1) / step * step;
  const auto y_of = [&](config::NanoUsd value) {
    return baseline - plot_height * static_cast<double>(value) / static_cast<double>(top);
  };
  for (config::NanoUsd tick = 0; tick <= top; tick += step) {
    const double y = y_of(tick);
    out += "<line class=\"grid\" x1=\"" + number(kLeft) + "\" x2=\"" + number(kWidth - kRight) +
           "\" y1=\"" + number(y) + "\" y2=\"" + number(y) + "\"/>\n";
    text(out, kLeft - 8, y + 4, "end", "$" + config::format_usd(tick));
  }

  const double slot = plot_width / static_cast<double>(days);
  const double column = std::max(1.0, slot * 0.72);
  // Roughly one date label per 70 px, whatever the period's length.
  const std::size_t label_every = std::max<std::size_t>(1, static_cast<std::size_t>(70 / slot) + 1);
  for (std::size_t day = 0; day < days; ++day) {
    const double x = kLeft + slot * static_cast<double>(day) + (slot - column) / 2;
    const std::string date = iso_date(charts.days[day]);
    config::NanoUsd stacked = 0;
    for (std::size_t i = 0; i < series.size(); ++i) {
      const config::NanoUsd spend = series[i].daily_spend[day];
      if (spend <= 0) continue;
      const double y_top = y_of(stacked + spend);
      const double y_bottom = y_of(stacked);
      stacked += spend;
      const std::string data =
          " data-series=\"" + escaped(series[i].workflow) + "\" data-day=\"" + date + "\"";
      bar(out, x, y_top, column, y_bottom - y_top, kPalette[std::min(i, kPalette.size() - 1)], data,
          series[i].workflow + ", " + date + ": $" + config::format_usd(spend));
    }
    if (day % label_every == 0) {
      text(out, x + column / 2, baseline + 20, "middle", short_date(charts.days[day]));
    }
  }
  out += "<line class=\"axis\" x1=\"" + number(kLeft) + "\" x2=\"" + number(kWidth - kRight) +
         "\" y1=\"" + number(baseline) + "\" y2=\"" + number(baseline) + "\"/>\n";
  out += "</svg>\n<ul class=\"legend\">\n";
  for (std::size_t i = 0; i < series.size(); ++i) {
    out += "<li><span class=\"swatch\" style=\"background:";
    out += kPalette[std::min(i, kPalette.size() - 1)];
    out += "\"></span>";
    escape(series[i].workflow, out);
    out += "</li>\n";
  }
  out += "</ul>\n";
  return out;
}

std::string bar_chart(std::string_view id, std::string_view description,
                      const std::vector<Bar>& bars, std::string_view empty_text) {
  constexpr double kWidth = 540;
  constexpr double kRow = 30;
  constexpr double kTop = 8;
  constexpr double kLabelWidth = 180;
  constexpr double kValueWidth = 96;
  constexpr double kBarHeight = 18;
  const double bar_room = kWidth - kLabelWidth - kValueWidth;

  std::string out;
  if (bars.empty()) {
    open_svg(out, id, description, kWidth, 60);
    text(out, kWidth / 2, 34, "middle", empty_text, "empty");
    out += "</svg>\n";
    return out;
  }
  const double height = kTop * 2 + kRow * static_cast<double>(bars.size());
  open_svg(out, id, description, kWidth, height);
  config::NanoUsd largest = 0;
  for (const Bar& one : bars) largest = std::max(largest, one.value);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& one = bars[i];
    const double y = kTop + kRow * static_cast<double>(i);
    const double width =
        largest <= 0 ? 0
                     : bar_room * static_cast<double>(std::max<config::NanoUsd>(0, one.value)) /
                           static_cast<double>(largest);
    text(out, kLabelWidth - 10, y + kRow / 2 + 4, "end", truncated(one.label, kMaxLabel));
    bar(out, kLabelWidth, y + (kRow - kBarHeight) / 2, width, kBarHeight, kPalette[0],
        " data-key=\"" + escaped(one.label) + "\"",
        one.label + ": $" + config::format_usd(one.value));
    text(out, kLabelWidth + width + 6, y + kRow / 2 + 4, "start", format::rounded_usd(one.value),
         "value");
  }
  out += "</svg>\n";
  return out;
}

}  // namespace spendwall::metering::report::svg
