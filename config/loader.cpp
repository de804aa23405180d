#include "config/loader.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/eventhandler.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "config/schema.hpp"
#include "config/yaml_reader.hpp"

namespace spendwall::config {
namespace {

using detail::Reader;
using detail::Value;

/// Far above any real config; stops a mistaken path (a log, a device) from being slurped.
constexpr std::uintmax_t kMaxFileBytes = 16u << 20;

constexpr SourceMark kFileStart{1, 1};

struct FileContent {
  std::optional<std::string> bytes;
  std::string problem;  ///< why `bytes` is empty
};

FileContent read_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return {std::nullopt, "no such file"};
  if (!std::filesystem::is_regular_file(status)) return {std::nullopt, "not a regular file"};
  if (std::filesystem::file_size(path, ec) > kMaxFileBytes || ec) {
    return {std::nullopt, ec ? ec.message() : "larger than 16 MiB"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return {std::nullopt, std::strerror(errno)};
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return {std::nullopt, "read failed"};
  return {std::move(bytes), {}};
}

/// SHA-256 over every file the config consists of; equal digests mean an unchanged config.
class ContentDigest {
 public:
  ContentDigest() : context_(EVP_MD_CTX_new()) {
    if (context_ != nullptr) EVP_DigestInit_ex(context_, EVP_sha256(), nullptr);
  }
  ~ContentDigest() { EVP_MD_CTX_free(context_); }
  ContentDigest(const ContentDigest&) = delete;
  ContentDigest& operator=(const ContentDigest&) = delete;

  /// Each file is length-prefixed, so moving text between files changes the digest.
  void add_file(std::string_view bytes) {
    if (context_ == nullptr) return;
    const std::uint64_t size = bytes.size();
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(size >> (8 * (7 - i)));
    EVP_DigestUpdate(context_, prefix, sizeof prefix);
    EVP_DigestUpdate(context_, bytes.data(), bytes.size());
  }

  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (context_ == nullptr || EVP_DigestFinal_ex(context_, digest, &length) != 1) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (unsigned int i = 0; i < length; ++i) {
      text += kHex[digest[i] >> 4];
      text += kHex[digest[i] & 0xf];
    }
    return text;
  }

 private:
  EVP_MD_CTX* context_;
};

/// Where each document of a YAML stream starts, without building its nodes.
class DocumentRoots final : public YAML::EventHandler {
 public:
  /// The position of the current document's root node.
  SourceMark root_mark() const noexcept { return root_mark_; }
  /// True when the current document's root is empty (null).
  bool root_is_null() const noexcept { return root_is_null_; }

  void OnDocumentStart(const YAML::Mark&) override { root_seen_ = false; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { root(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { root(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    root(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    root(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    root(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void root(const YAML::Mark& mark, bool is_null) {
    if (root_seen_) return;
    root_seen_ = true;
    root_is_null_ = is_null;
    root_mark_ = mark.is_null() ? kFileStart : SourceMark{mark.line + 1, mark.column + 1};
  }

  bool root_seen_ = false;
  bool root_is_null_ = false;
  SourceMark root_mark_ = kFileStart;
};

/// The number of documents in `text` (throws YAML::Exception on a syntax error), counted up
/// to 2; `second_root` is where the second one starts. Not YAML::LoadAll: in yaml-cpp 0.7 it
/// never returns on some malformed streams (a lone ',' at the top level, jbeder/yaml-cpp#1040)
/// because the parser keeps reporting an empty document without consuming input, and it
/// allocates a node for each. As in the upstream fix (jbeder/yaml-cpp#1319), counting stops
/// at the first document whose root is empty.
std::size_t count_documents(const std::string& text, SourceMark& second_root) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentRoots roots;
  std::size_t count = 0;
  while (count < 2 && parser.HandleNextDocument(roots)) {
    ++count;
    if (count == 2) second_root = roots.root_mark();
    if (roots.root_is_null()) break;
  }
  return count;
}

/// The single YAML document of `text`, or nullopt after reporting why there is none.
std::optional<YAML::Node> parse_document(Reader& reader, const std::string& text) {
  try {
    SourceMark second_root = kFileStart;
    const std::size_t documents = count_documents(text, second_root);
    if (documents == 0) {
      reader.error(kFileStart, "the file is empty");
      return std::nullopt;
    }
    if (documents > 1) {
      reader.error(second_root, "only one YAML document is allowed per file");
      return std::nullopt;
    }
    // The stream holds one document, so YAML::Load (which reads only the first) has it all.
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const SourceMark at =
        e.mark.is_null() ? kFileStart : SourceMark{e.mark.line + 1, e.mark.column + 1};
    reader.error(at, "YAML syntax: " + e.msg);
    return std::nullopt;
  }
}

Value root_value(Reader& reader, const YAML::Node& root, std::string_view what) {
  return Value{reader, root, "", kFileStart, what};
}

LoadResult load(const std::string& text, const std::string& display_name,
                const std::string& directory, const EnvLookup& env) {
  LoadResult result;
  Reader main(display_name, directory, env);
  ContentDigest digest;
  digest.add_file(text);

  detail::Draft draft;
  if (const auto root = parse_document(main, text)) {
    detail::read_config(root_value(main, *root, "the config"), draft);
  }
  ConfigSnapshot& config = draft.snapshot;

  bool prices_complete = draft.prices_complete;
  std::vector<Diagnostic> included_diagnostics;
  std::size_t included_errors = 0;
  for (const auto& include : draft.includes) {
    const auto content = read_file(include.path);
    if (!content.bytes) {
      main.error(include.mark, "cannot read price file " + include.path + ": " + content.problem);
      prices_complete = false;
      continue;
    }
    digest.add_file(*content.bytes);
    Reader reader(include.path, directory, env);
    detail::PriceFileDraft price_file;
    price_file.spec.path = include.path;
    if (const auto root = parse_document(reader, *content.bytes)) {
      detail::read_price_file(root_value(reader, *root, "the price file"), price_file);
    }
    // A broken price file probably holds the prices that now look missing.
    if (reader.error_count() > 0) prices_complete = false;
    included_errors += reader.error_count();
    for (auto& diagnostic : reader.take_sorted_diagnostics()) {
      included_diagnostics.push_back(std::move(diagnostic));
    }
    std::move(price_file.prices.begin(), price_file.prices.end(),
              std::back_inserter(config.prices));
    config.price_files.push_back(std::move(price_file.spec));
  }
  std::move(draft.prices.begin(), draft.prices.end(), std::back_inserter(config.prices));

  const detail::WholeConfig whole{.config = config,
                                  .prices_complete = prices_complete,
                                  .providers_complete = draft.providers_complete,
                                  .routes_complete = draft.routes_complete};
  main.run_deferred_checks(whole);
  detail::warn_unused_providers(main, config);

  const std::size_t errors = main.error_count() + included_errors;
  result.diagnostics = main.take_sorted_diagnostics();
  std::move(included_diagnostics.begin(), included_diagnostics.end(),
            std::back_inserter(result.diagnostics));
  if (errors > 0) return result;

  config.file = display_name;
  config.directory = directory;
  config.content_digest = digest.hex();
  const bool file_backed =
      config.ledger.backend == LedgerBackend::sqlite && config.ledger.path != ":memory:";
  if (file_backed) config.ledger.path = main.resolve(config.ledger.path);
  result.snapshot = std::make_shared<const ConfigSnapshot>(std::move(config));
  return result;
}

LoadResult internal_failure(const std::string& file, const char* what) {
  LoadResult result;
  result.diagnostics.push_back({Severity::error, file, 0, 0,
                                std::string("internal error while loading the config: ") + what});
  return result;
}

}  // namespace

std::string Diagnostic::format() const {
  std::string text = file;
  if (line > 0) {
    text += ":" + std::to_string(line);
    if (column > 0) text += ":" + std::to_string(column);
  }
  text += severity == Severity::error ? ": error: " : ": warning: ";
  text += message;
  return text;
}

std::size_t LoadResult::error_count() const noexcept {
  std::size_t count = 0;
  for (const auto& diagnostic : diagnostics)
    count += diagnostic.severity == Severity::error ? 1 : 0;
  return count;
}

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

LoadResult load_config_file(const std::string& path, const EnvLookup& env) {
  try {
    const auto content = read_file(path);
    if (!content.bytes) {
      LoadResult result;
      result.diagnostics.push_back(
          {Severity::error, path, 0, 0, "cannot read config file: " + content.problem});
      return result;
    }
    const auto folder = std::filesystem::path(path).parent_path().string();
    return load(*content.bytes, path, folder.empty() ? "." : folder, env);
  } catch (const std::exception& e) {
    return internal_failure(path, e.what());
  } catch (...) {
    return internal_failure(path, "unknown exception");
  }
}

LoadResult load_config_text(std::string_view text, const std::string& display_name,
                            const std::string& directory, const EnvLookup& env) {
  try {
    return load(std::string(text), display_name, directory, env);
  } catch (const std::exception& e) {
    return internal_failure(display_name, e.what());
  } catch (...) {
    return internal_failure(display_name, "unknown exception");
  }
}

}  // namespace spendwall::config
