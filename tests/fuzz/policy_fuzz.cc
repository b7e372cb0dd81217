// Bucket policy documents (JSON) and lifecycle configurations (XML): both arrive from clients.
// Whatever parses must evaluate without crashing, and a lifecycle configuration must survive
// its own round trip (what GET returns is what PUT stored).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lifecycle/lifecycle.h"
#include "policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = logbucket::policy::Policy::Parse(text, {"bucket", nullptr});
  if (p) {
    logbucket::policy::Request r;
    r.action = "s3:GetObject";
    r.resource = "arn:aws:s3:::bucket/key";
    r.Set("aws:SourceIp", "10.0.0.1");
    r.Set("aws:username", "bob");
    auto e = p->Evaluate(r);
    (void)e.ToString(r);
    (void)p->IsPublic();
  }
  auto l = logbucket::lifecycle::Parse(text);
  if (l) {
    auto again = logbucket::lifecycle::Parse(logbucket::lifecycle::ToXml(*l));
    if (!again || again->rules.size() != l->rules.size()) __builtin_trap();
    (void)logbucket::lifecycle::ObjectExpiry(*l, "key", 10, {}, 0, 86400000);
  }
  return 0;
}
