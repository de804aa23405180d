#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "metering/report/render.hpp"
#include "metering/report/render_format.hpp"

namespace spendwall::metering::report {
namespace {

/// Rows of cells printed in aligned columns: text to the left, figures to the right.
class TextGrid {
 public:
  enum class Align { left, right };

  explicit TextGrid(std::vector<Align> aligns) : aligns_(std::move(aligns)) {}

  void add_row(std::vector<std::string> cells) {
    for (std::string& cell : cells) cell = printable(cell);
    rows_.push_back(std::move(cells));
  }
  /// A line of dashes across every column.
  void add_rule() { rows_.emplace_back(); }

  void render(std::string& out, std::string_view indent = "") const {
    std::vector<std::size_t> widths(aligns_.size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        widths[i] = std::max(widths[i], display_width(row[i]));
      }
    }
    std::size_t total = 0;
    for (std::size_t width : widths) total += width + kGap;
    total = total >= kGap ? total - kGap : 0;
    for (const auto& row : rows_) {
      std::string line(indent);
      if (row.empty()) {
        line.append(total, '-');
      }
      for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        const std::size_t padding = widths[i] - display_width(row[i]);
        if (i > 0) line.append(kGap, ' ');
        if (aligns_[i] == Align::right) line.append(padding, ' ');
        line += row[i];
        if (aligns_[i] == Align::left) line.append(padding, ' ');
      }
      line.erase(line.find_last_not_of(' ') + 1);
      out += line;
      out += '\n';
    }
  }

 private:
  static constexpr std::size_t kGap = 2;

  /// Code points, a fair measure of terminal columns for the names a ledger holds.
  static std::size_t display_width(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
  }

  /// A name with control characters would break the alignment or drive the terminal.
  static std::string printable(std::string_view text) {
    std::string clean(text);
    for (char& c : clean) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return clean;
  }

  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string upper(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return result;
}

}  // namespace

std::string render_table(const Report& report) {
  std::string out = "Spendwall report by " + std::string(to_string(report.by)) + ": " +
                    format_timestamp(report.period.since) + " to " +
                    format_timestamp(report.period.until) + " (previous period " +
                    format_timestamp(report.previous.since) + " to " +
                    format_timestamp(report.previous.until) + ")\n\n";

  format::TableLayout layout = format::table_layout(report, "-");
  std::vector<TextGrid::Align> aligns;
  std::vector<std::string> header;
  for (const format::TableColumn& column : layout.columns) {
    aligns.push_back(column.text ? TextGrid::Align::left : TextGrid::Align::right);
    header.push_back(upper(column.title));
  }
  TextGrid grid(std::move(aligns));
  grid.add_row(std::move(header));
  grid.add_rule();
  for (auto& row : layout.rows) grid.add_row(std::move(row));
  if (report.rows.empty()) grid.add_row({"(no requests)"});
  grid.add_rule();
  layout.totals[0] = "TOTAL";
  grid.add_row(std::move(layout.totals));
  grid.render(out);

  out += "\nExceptions raised in the period: " + std::to_string(report.exceptions.size()) + "\n";
  if (!report.exceptions.empty()) {
    TextGrid exceptions(std::vector<TextGrid::Align>(5, TextGrid::Align::left));
    for (const ExceptionEntry& entry : report.exceptions) {
      exceptions.add_row(
          {format::timestamp(entry.at), entry.workflow, entry.kind, entry.id, entry.next_action});
    }
    exceptions.render(out, "  ");
  }
  for (const std::string& note : report.notes) out += "Note: " + note + "\n";
  return out;
}

}  // namespace spendwall::metering::report
