#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>

#include "proxy/api/result.hpp"

/// What the OpenAI chat ⇄ Anthropic Messages translators share (PRODUCT.md §2 step 7): their
/// result type and the per-worker parsers and buffers they reuse. The translations themselves
/// are in translate_request.hpp, translate_response.hpp and translate_stream.hpp; what each
/// maps and refuses is listed in docs/translation.md.
/// Thread-safety: a `TranslationWorkspace` belongs to one worker thread.
namespace spendwall::api {

/// The value of a successful translation; the translated bytes are in the caller's `out`.
struct Translated {};

/// On error, the caller's `out` holds unspecified partial output and must not be sent.
using TranslateResult = Result<Translated>;

/// The parsers and scratch text every translation on one worker reuses, so that steady-state
/// translation allocates nothing once they have grown to the largest input seen.
///
/// Each call that uses it finishes with it before returning, so the sessions of one worker may
/// share it even though their coroutines interleave. A parser grown past `kRetainedCapacity`
/// by one large non-streaming body is released after that call rather than kept for the life
/// of the worker.
class TranslationWorkspace {
 public:
  static constexpr std::size_t kRetainedCapacity = std::size_t{1} << 20;

  TranslationWorkspace() = default;
  TranslationWorkspace(const TranslationWorkspace&) = delete;
  TranslationWorkspace& operator=(const TranslationWorkspace&) = delete;

  /// For the document being translated: a request or response body, or a stream event.
  simdjson::dom::parser& document_parser() noexcept { return document_parser_; }
  /// For JSON nested as text inside that document (tool-call arguments), parsed while the
  /// document's DOM is still in use.
  simdjson::dom::parser& fragment_parser() noexcept { return fragment_parser_; }
  /// Text assembled from several parts of the document before it is written out.
  std::string& text() noexcept { return text_; }

  /// Releases whatever one large document grew beyond `kRetainedCapacity`.
  void release_oversized() noexcept {
    if (document_parser_.capacity() > kRetainedCapacity) document_parser_ = simdjson::dom::parser();
    if (fragment_parser_.capacity() > kRetainedCapacity) fragment_parser_ = simdjson::dom::parser();
    if (text_.capacity() > kRetainedCapacity) std::string().swap(text_);
  }

 private:
  simdjson::dom::parser document_parser_;
  simdjson::dom::parser fragment_parser_;
  std::string text_;
};

}  // namespace spendwall::api
