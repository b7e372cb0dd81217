// TLS for a listener (the web viewer's `web.tls_cert_file`/`web.tls_key_file`), kept outside the
// event loops: each accepted TCP connection gets a thread that does the handshake and then moves
// bytes between the TLS session and one end of a socketpair, whose other end the server treats
// as the accepted connection. The server's parsing, sendfile, timeouts and drain stay exactly as
// they are, the peer address stays the client's, and a slow handshake never stalls a loop. The
// cost, a thread and a copy per connection, is right for a viewer behind SSO; the S3 listener,
// where throughput matters, stays plain (put a TLS proxy in front of it, as in production).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace logbucket::http {

class TlsTerminator {
 public:
  // Loads the PEM certificate chain and private key; errors name the file.
  static Result<std::unique_ptr<TlsTerminator>> Create(const std::string& cert_file,
                                                       const std::string& key_file);
  ~TlsTerminator();

  // Takes ownership of an accepted TCP socket and starts its thread; returns the plaintext end
  // (non-blocking) for the server. The whole handshake must finish within `handshake_ms`
  // (a client that trickles it holds a thread); `timeout_ms` bounds any stalled write.
  Result<int> Wrap(int tcp_fd, int timeout_ms, int handshake_ms);

  // Loads the files again (a renewed certificate, SIGHUP): new connections get the new pair,
  // those in flight keep theirs. On an error the running pair stays.
  Status Reload(const std::string& cert_file, const std::string& key_file);

 private:
  TlsTerminator() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace logbucket::http
