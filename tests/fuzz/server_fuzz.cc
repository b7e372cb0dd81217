// The network-facing server, end to end: arbitrary bytes arrive on a connection of the real
// http::Server (event loop, request-head parser, hand-off to a worker, body readers for
// Content-Length, chunked and aws-chunked framing, trailers, 100-continue, keep-alive and
// pipelining, response writing) in front of the real S3 service over a real LocalStore, or of
// the real log viewer over the same store. The bucket's policy lets anonymous clients do
// everything, so unsigned input reaches uploads, multipart, DeleteObjects' XML and listings,
// not only the signature check. Input byte 0 picks the listener (even: S3, odd: viewer); the
// rest is what the client sends before it half-closes. A crash, a sanitizer report, or a
// connection the server never finishes (libFuzzer's -timeout) is a finding.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/encoding.h"
#include "common/hash.h"
#include "common/log.h"
#include "http/server/server.h"
#include "s3/service.h"
#include "store/local/local_store.h"
#include "web/viewer.h"

namespace {

using namespace logbucket;

struct World {
  std::string dir;
  std::unique_ptr<store::LocalStore> store;
  std::unique_ptr<s3::Service> service;
  std::unique_ptr<web::Viewer> viewer;
  std::unique_ptr<http::Server> s3_server;
  std::unique_ptr<http::Server> web_server;
  uint64_t inputs = 0;

  World() {
    // The access and error lines of millions of malformed requests: half a gigabyte of log and
    // a good part of the executions. A finding is a crash or a sanitizer report, not a line.
    Log().set_level(spdlog::level::err);
    // tmpfs when there is one: commits fsync, and a fuzzer makes millions of them.
    std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    dir = base + "/lb-server-fuzz-" + HexEncode(RandomBytes(6));
    store::LocalStoreOptions so;
    so.data_dir = dir;
    so.min_free_bytes = 0;
    so.reserve_bytes = 0;
    auto opened = store::OpenLocalStore(so);
    if (!opened) std::abort();
    store = std::move(*opened);
    (void)store->AddUser("admin", true);
    (void)store->CreateBucket({"logs", 0, "admin", "us-east-1"});
    (void)store->SetBucketPolicy(
        "logs", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",)"
                R"("Action":"s3:*","Resource":["arn:aws:s3:::logs","arn:aws:s3:::logs/*"]}]})");
    s3::ServiceOptions service_options;
    service_options.min_part_bytes = 16;
    service_options.s3.max_object_bytes = 1 << 20;
    service = std::make_unique<s3::Service>(service_options, *store, *store);
    web::ViewerOptions viewer_options;
    viewer_options.no_sign_in = true;
    viewer_options.cache.cache_dir = dir + "/tmp";
    viewer = std::make_unique<web::Viewer>(*store, viewer_options);
    http::ServerOptions options;
    options.event_loops = 1;
    options.access_log = false;
    options.max_header_bytes = 16 * 1024;
    options.max_body_bytes = 2 << 20;
    options.idle_timeout_seconds = 5;
    options.io_timeout_seconds = 5;
    s3_server = std::make_unique<http::Server>(
        options, [this](http::Request& r) { return service->Handle(r); });
    options.name = "web";
    web_server = std::make_unique<http::Server>(
        options, [this](http::Request& r) { return viewer->Handle(r); });
    if (!s3_server->Listen().ok() || !web_server->Listen().ok()) std::abort();
    s3_server->Start();
    web_server->Start();
  }

  ~World() {
    s3_server->Shutdown(0);
    web_server->Shutdown(0);
    std::filesystem::remove_all(dir);
  }

  // Uploads pile up over millions of inputs: start over every so often.
  void Tidy() {
    if (++inputs % 5000 != 0) return;
    auto listed = store->ListObjects("logs", {});
    if (!listed) return;
    std::vector<std::string> keys;
    for (const auto& o : listed->objects) keys.push_back(o.key);
    if (!keys.empty()) (void)store->DeleteObjects("logs", keys);
  }
};

World& TheWorld() {
  static World* world = new World();  // never destroyed: threads still run at exit
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  World& world = TheWorld();
  world.Tidy();
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 0;
  http::Server& server = (data[0] & 1) ? *world.web_server : *world.s3_server;
  if (!server.Adopt(pair[0], "192.0.2.7")) {
    ::close(pair[1]);
    return 0;
  }
  int client = pair[1];
  // Send everything (the server may answer early and close: stop sending then), half-close,
  // and read until the server closes the connection.
  const char* p = reinterpret_cast<const char*>(data) + 1;
  size_t left = size - 1;
  char sink[65536];
  bool reading = true;
  while (left > 0) {
    pollfd fds{client, POLLOUT | POLLIN, 0};
    if (::poll(&fds, 1, 5000) <= 0) break;
    if (fds.revents & POLLIN) {
      ssize_t n = ::recv(client, sink, sizeof sink, MSG_DONTWAIT);
      if (n == 0) {
        reading = false;
        break;
      }
    }
    if (fds.revents & (POLLERR | POLLHUP)) break;
    if (fds.revents & POLLOUT) {
      ssize_t n = ::send(client, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN) break;
      if (n > 0) {
        p += n;
        left -= static_cast<size_t>(n);
      }
    }
  }
  ::shutdown(client, SHUT_WR);
  while (reading) {
    pollfd fds{client, POLLIN, 0};
    if (::poll(&fds, 1, 10000) <= 0) break;  // a server that never finishes: -timeout reports
    ssize_t n = ::recv(client, sink, sizeof sink, 0);
    if (n <= 0) break;
  }
  ::close(client);
  return 0;
}
