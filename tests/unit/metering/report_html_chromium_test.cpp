#include "metering/report/render.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "report_html_support.hpp"
#include "report_test_support.hpp"

namespace spendwall::metering::report {
namespace {

namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";

/// Where the page and its screenshot are kept for a human to look at after the run.
fs::path artifact_dir() {
#ifdef SPENDWALL_REPORT_ARTIFACT_DIR
  return SPENDWALL_REPORT_ARTIFACT_DIR;
#else
  return fs::temp_directory_path() / "spendwall-report-artifacts";
#endif
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t big_endian(const std::string& bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  }
  return value;
}

TEST(ReportHtmlChromiumTest, TheReviewPageRendersWithItsCharts) {
  if (!fs::exists(kChromium)) {
    GTEST_SKIP() << kChromium << " is missing: install Debian's chromium package "
                 << "(scripts/install-deps.sh) to render the HTML report";
  }
  testing::KnownLedger ledger;
  const std::string html = render_html(ledger.report(GroupBy::workflow));
  // The structural checks are what can fail; the screenshot proves a browser draws it.
  ASSERT_EQ(testing::count_bars(html, "daily-spend"), 7u);
  ASSERT_EQ(testing::count_bars(html, "provider-spend"), 2u);
  ASSERT_EQ(testing::count_bars(html, "cost-per-accepted"), 2u);

  const fs::path dir = artifact_dir();
  fs::create_directories(dir);
  const fs::path page = dir / "report.html";
  const fs::path screenshot = dir / "report.png";
  fs::remove(screenshot);
  {
    std::ofstream out(page, std::ios::binary);
    out << html;
  }
  const fs::path profile = ledger.dir().path() / "chromium-profile";
  const std::string command =
      std::string("timeout 120 ") + kChromium +
      " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --user-data-dir='" +
      profile.string() + "' --screenshot='" + screenshot.string() +
      "' --window-size=1280,1600 'file://" + page.string() + "' > '" +
      (dir / "chromium.log").string() + "' 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_EQ(status, 0) << command << "\n" << read_file(dir / "chromium.log");

  ASSERT_TRUE(fs::exists(screenshot)) << read_file(dir / "chromium.log");
  const std::string png = read_file(screenshot);
  ASSERT_GE(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(big_endian(png, 16), 1280u) << "width from the IHDR chunk";
  EXPECT_EQ(big_endian(png, 20), 1600u) << "height from the IHDR chunk";
  // A blank page of this size compresses to a few kilobytes; text, bars and tables do not.
  EXPECT_GT(png.size(), 40'000u) << screenshot;
}

}  // namespace
}  // namespace spendwall::metering::report
