#include "proxy/server/http_hygiene.hpp"

#include <gtest/gtest.h>

namespace spendwall::proxy::server {
namespace {

http::request_header<> head_with(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  http::request_header<> head;
  head.method(http::verb::post);
  head.target("/v1/chat/completions");
  for (const auto& [name, value] : fields) head.insert(name, value);
  return head;
}

TEST(CheckFraming, AcceptsPlainContentLength) {
  EXPECT_FALSE(check_framing(head_with({{"Content-Length", "10"}})).has_value());
}

TEST(CheckFraming, AcceptsChunked) {
  EXPECT_FALSE(check_framing(head_with({{"Transfer-Encoding", "chunked"}})).has_value());
  EXPECT_FALSE(check_framing(head_with({{"Transfer-Encoding", "Chunked"}})).has_value());
}

TEST(CheckFraming, RejectsContentLengthWithTransferEncoding) {
  auto rejection =
      check_framing(head_with({{"Content-Length", "10"}, {"Transfer-Encoding", "chunked"}}));
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->status, http::status::bad_request);
}

TEST(CheckFraming, RejectsOtherTransferEncodings) {
  EXPECT_TRUE(check_framing(head_with({{"Transfer-Encoding", "gzip, chunked"}})));
  EXPECT_TRUE(check_framing(head_with({{"Transfer-Encoding", "gzip"}})));
  EXPECT_TRUE(check_framing(
      head_with({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}})));
}

TEST(CheckFraming, RejectsControlCharactersInValues) {
  http::request_header<> head = head_with({});
  head.insert("x-note", std::string_view("a\0b", 3));
  EXPECT_TRUE(check_framing(head));
}

TEST(ClassifyHeadError, SilentForTimeoutsAndDisconnects) {
  beast::flat_buffer buffer;
  EXPECT_FALSE(classify_head_error(beast::error::timeout, buffer, 1024));
  EXPECT_FALSE(classify_head_error(http::error::end_of_stream, buffer, 1024));
}

TEST(ClassifyHeadError, TellsLongRequestLineFromLongHead) {
  beast::flat_buffer line_only;
  auto bytes = net::buffer_copy(line_only.prepare(5), net::buffer(std::string_view("GET /")));
  line_only.commit(bytes);
  EXPECT_EQ(classify_head_error(http::error::header_limit, line_only, 1024)->status,
            http::status::uri_too_long);

  beast::flat_buffer with_headers;
  bytes = net::buffer_copy(with_headers.prepare(20),
                           net::buffer(std::string_view("GET / HTTP/1.1\r\nA: b")));
  with_headers.commit(bytes);
  EXPECT_EQ(classify_head_error(http::error::header_limit, with_headers, 1024)->status,
            http::status::request_header_fields_too_large);
  EXPECT_EQ(classify_head_error(http::error::header_limit, with_headers, 10)->status,
            http::status::uri_too_long)
      << "a request line longer than the limit is 414 even when more bytes follow it";
}

TEST(ClassifyHeadError, LongHeaderAfterAConsumedRequestLineIs431) {
  beast::flat_buffer header_only;
  std::string header = "x-padding: " + std::string(100, 'p');
  auto bytes = net::buffer_copy(header_only.prepare(header.size()), net::buffer(header));
  header_only.commit(bytes);
  EXPECT_EQ(classify_head_error(http::error::header_limit, header_only, 64)->status,
            http::status::request_header_fields_too_large);
}

TEST(ClassifyHeadError, MalformedHeadIsBadRequest) {
  beast::flat_buffer buffer;
  EXPECT_EQ(classify_head_error(http::error::bad_field, buffer, 1024)->status,
            http::status::bad_request);
  EXPECT_EQ(classify_head_error(http::error::multiple_content_length, buffer, 1024)->status,
            http::status::bad_request);
}

}  // namespace
}  // namespace spendwall::proxy::server
