#include "proxy/upstream/tls_peer.hpp"

#include <openssl/x509v3.h>

#include "proxy/net.hpp"

namespace spendwall::proxy::upstream {

void expect_peer(SSL* handle, const std::string& host) {
  X509_VERIFY_PARAM* verify = SSL_get0_param(handle);
  error_code not_an_address;
  net::ip::make_address(host, not_an_address);
  if (!not_an_address) {
    X509_VERIFY_PARAM_set1_ip_asc(verify, host.c_str());
  } else {
    SSL_set_tlsext_host_name(handle, host.c_str());
    X509_VERIFY_PARAM_set1_host(verify, host.c_str(), 0);
  }
}

}  // namespace spendwall::proxy::upstream
