// Admin commands over the S3 API — `bucket`, `policy`, `lifecycle`, `verify` — that work against
// logbucket and any S3 endpoint (Ceph RGW, AWS, MinIO), plus the offline `policy check`.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <sstream>

#include "app/commands.h"
#include "app/connection.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/net.h"
#include "lifecycle/lifecycle.h"
#include "policy/policy.h"
#include "s3client/client.h"

namespace logbucket::app {
namespace {

int Fail(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "logbucket %s: %s\n", command.c_str(), message.c_str());
  return 1;
}

Result<std::string> ReadFile(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kInvalidArgument, path + ": cannot open");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > limit) {
    return Error(ErrorCode::kInvalidArgument,
                 path + ": larger than " + std::to_string(limit) + " bytes");
  }
  return data;
}

// Runs one request and turns an S3 error into a one-line failure.
struct Call {
  std::string command;
  Result<s3client::S3Response> response;
  int Check(const std::string& what) const {
    if (!response) return Fail(command, what + ": " + response.error().message());
    if (!response->ok()) return Fail(command, what + ": " + response->Summary());
    return 0;
  }
};

Result<s3client::Client*> MakeClient(const Connection& c,
                                     std::unique_ptr<s3client::Client>& holder) {
  auto options = ClientOptionsFor(c);
  if (!options) return options.error();
  if (!options->credentials && !c.anonymous) {
    return Error(ErrorCode::kInvalidArgument,
                 "no credentials: give --access-key/--secret-key, set AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY (e.g. `set -a; . DATA/admin.env`), use --profile, or "
                 "--anonymous");
  }
  holder = std::make_unique<s3client::Client>(*options);
  return holder.get();
}

// Runs `body` with a client for `c` and returns its exit code; reports a missing client.
template <typename Fn>
int WithClient(const std::string& command, const Connection& c, Fn&& body) {
  std::unique_ptr<s3client::Client> holder;
  auto client = MakeClient(c, holder);
  if (!client) return Fail(command, client.error().message());
  return body(**client);
}

// `policy delete` / `lifecycle delete`: DELETE ?<subresource> on the bucket.
void RegisterDeleteDocument(CLI::App* cmd, int& exit_code, const std::string& subresource,
                            const std::string& help) {
  auto del = std::make_shared<Connection>();
  CLI::App* d = cmd->add_subcommand("delete", help);
  AddConnectionOptions(d, *del, true);
  d->callback([del, subresource, &exit_code] {
    std::string command = subresource + " delete";
    exit_code = WithClient(command, *del, [&](s3client::Client& client) -> int {
      Call call{command, client.Request("DELETE", del->bucket, "", subresource)};
      int rc = call.Check(del->bucket);
      if (rc == 0) std::printf("%s of %s deleted\n", subresource.c_str(), del->bucket.c_str());
      return rc;
    });
  });
}

// ------------------------------------------------------------------ bucket

void RegisterBucket(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("bucket", "Create, delete and list buckets (any S3 endpoint)");
  cmd->require_subcommand(1);

  auto create = std::make_shared<Connection>();
  CLI::App* c = cmd->add_subcommand("create", "Create a bucket");
  AddConnectionOptions(c, *create, false);
  auto create_name = std::make_shared<std::string>();
  c->add_option("name", *create_name, "bucket name")->required();
  c->callback([create, create_name, &exit_code] {
    exit_code = WithClient("bucket create", *create, [&](s3client::Client& client) -> int {
      std::string body;
      const std::string& region = client.options().region;
      if (region != "us-east-1") {
        body =
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>" +
            XmlEscape(region) + "</LocationConstraint></CreateBucketConfiguration>";
      }
      Call call{"bucket create", client.Request("PUT", *create_name, "", "", body)};
      if (call.response && call.response->error_code == "BucketAlreadyOwnedByYou") {
        std::printf("bucket %s already exists and is yours\n", create_name->c_str());
        return 0;
      }
      int rc = call.Check(*create_name);
      if (rc == 0) std::printf("created bucket %s\n", create_name->c_str());
      return rc;
    });
  });

  auto del = std::make_shared<Connection>();
  CLI::App* d = cmd->add_subcommand("delete", "Delete an empty bucket");
  AddConnectionOptions(d, *del, false);
  auto del_name = std::make_shared<std::string>();
  d->add_option("name", *del_name, "bucket name")->required();
  d->callback([del, del_name, &exit_code] {
    exit_code = WithClient("bucket delete", *del, [&](s3client::Client& client) -> int {
      Call call{"bucket delete", client.Request("DELETE", *del_name, "", "")};
      int rc = call.Check(*del_name);
      if (rc == 0) std::printf("deleted bucket %s\n", del_name->c_str());
      return rc;
    });
  });

  auto ls = std::make_shared<Connection>();
  CLI::App* l = cmd->add_subcommand("ls", "List buckets");
  AddConnectionOptions(l, *ls, false);
  l->callback([ls, &exit_code] {
    exit_code = WithClient("bucket ls", *ls, [&](s3client::Client& client) -> int {
      Call call{"bucket ls", client.Request("GET", "", "", "")};
      int rc = call.Check("ListBuckets");
      if (rc != 0) return rc;
      pugi::xml_document doc;
      doc.load_buffer(call.response->body.data(), call.response->body.size());
      for (pugi::xml_node b :
           doc.child("ListAllMyBucketsResult").child("Buckets").children("Bucket")) {
        std::printf("%s  %s\n", b.child_value("CreationDate"), b.child_value("Name"));
      }
      return rc;
    });
  });
}

// ------------------------------------------------------------------ policy

Result<std::string> ResourceArn(const std::string& resource, const std::string& bucket) {
  if (resource.starts_with("arn:")) return resource;
  if (!bucket.empty()) return "arn:aws:s3:::" + bucket + (resource.empty() ? "" : "/" + resource);
  if (resource.empty()) return Error(ErrorCode::kInvalidArgument, "--resource is required");
  return "arn:aws:s3:::" + resource;  // BUCKET or BUCKET/KEY
}

void RegisterPolicy(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("policy", "Set, show, delete and simulate bucket policies");
  cmd->require_subcommand(1);

  auto set = std::make_shared<Connection>();
  auto set_file = std::make_shared<std::string>();
  CLI::App* s = cmd->add_subcommand("set", "Apply a policy JSON file to a bucket");
  AddConnectionOptions(s, *set, true);
  s->add_option("file", *set_file, "policy JSON file (AWS policy grammar)")->required();
  s->callback([set, set_file, &exit_code] {
    auto text = ReadFile(*set_file, policy::kMaxPolicyBytes + 1);
    if (!text) {
      exit_code = Fail("policy set", text.error().message());
      return;
    }
    // Validate here first: a clear message naming the file beats a remote MalformedPolicy.
    auto parsed = policy::Policy::Parse(*text, {set->bucket, nullptr});
    if (!parsed) {
      exit_code = Fail("policy set", *set_file + ": " + parsed.error().message());
      return;
    }
    exit_code = WithClient("policy set", *set, [&](s3client::Client& client) -> int {
      Call call{"policy set", client.Request("PUT", set->bucket, "", "policy", *text,
                                             {{"content-type", "application/json"}})};
      int rc = call.Check(*set_file);
      if (rc == 0) {
        std::printf("policy of %s set from %s (%zu statements)\n", set->bucket.c_str(),
                    set_file->c_str(), parsed->statement_count());
      }
      return rc;
    });
  });

  auto get = std::make_shared<Connection>();
  CLI::App* g = cmd->add_subcommand("get", "Print a bucket's policy");
  AddConnectionOptions(g, *get, true);
  g->callback([get, &exit_code] {
    exit_code = WithClient("policy get", *get, [&](s3client::Client& client) -> int {
      Call call{"policy get", client.Request("GET", get->bucket, "", "policy")};
      int rc = call.Check(get->bucket);
      if (rc != 0) return rc;
      auto doc = nlohmann::json::parse(call.response->body, nullptr, false);
      std::printf("%s\n", doc.is_discarded() ? call.response->body.c_str() : doc.dump(2).c_str());
      return rc;
    });
  });

  RegisterDeleteDocument(cmd, exit_code, "policy", "Remove a bucket's policy");

  struct CheckFlags {
    std::string file, ip, user, action, resource, bucket;
  };
  auto check = std::make_shared<CheckFlags>();
  CLI::App* c = cmd->add_subcommand(
      "check",
      "Simulate a request against a policy file, offline: decision and deciding statements");
  c->add_option("file", check->file, "policy JSON file")->required();
  c->add_option("--ip", check->ip, "client address (aws:SourceIp)")->required();
  c->add_option("--user", check->user, "user name (default: anonymous)");
  c->add_option("--action", check->action, "IAM action, e.g. s3:GetObject")->required();
  c->add_option("--resource", check->resource,
                "object key (with --bucket), BUCKET/KEY, or an arn:aws:s3::: ARN");
  c->add_option("--bucket,-b", check->bucket, "bucket the key belongs to");
  c->callback([check, &exit_code] {
    auto text = ReadFile(check->file, policy::kMaxPolicyBytes + 1);
    if (!text) {
      exit_code = Fail("policy check", text.error().message());
      return;
    }
    auto parsed = policy::Policy::Parse(*text);
    if (!parsed) {
      exit_code = Fail("policy check", check->file + ": " + parsed.error().message());
      return;
    }
    if (!ParseIp(check->ip)) {
      exit_code = Fail("policy check", "--ip " + check->ip + ": not an IP address");
      return;
    }
    auto arn = ResourceArn(check->resource, check->bucket);
    if (!arn) {
      exit_code = Fail("policy check", arn.error().message());
      return;
    }
    policy::Request r;
    r.anonymous = check->user.empty();
    r.user = check->user;
    r.action = check->action;
    r.resource = *arn;
    r.Set("aws:SourceIp", check->ip);
    r.Set("aws:SecureTransport", "false");
    r.Set("aws:PrincipalType", r.anonymous ? "Anonymous" : "User");
    if (!r.anonymous) r.Set("aws:username", r.user);
    if (check->action == "s3:ListBucket") r.Set("s3:prefix", "");
    auto e = parsed->Evaluate(r);
    std::printf("%s\n", std::string(policy::DecisionName(e.decision)).c_str());
    for (const auto& s : e.deciding) {
      std::printf("  decided by '%s' (%s): %s\n", s.name.c_str(), s.allow ? "Allow" : "Deny",
                  s.reason.c_str());
    }
    for (const auto& s : e.near_misses) {
      std::printf("  '%s' (%s) did not apply: %s\n", s.name.c_str(), s.allow ? "Allow" : "Deny",
                  s.reason.c_str());
    }
    if (e.decision != policy::Decision::kAllow) {
      std::printf("  (the bucket owner and admin keys are still allowed unless a Deny applies)\n");
    }
    exit_code = e.decision == policy::Decision::kAllow ? 0 : 3;
  });
}

// ------------------------------------------------------------------ lifecycle

void RegisterLifecycle(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("lifecycle", "Set, show and delete bucket expiration rules");
  cmd->require_subcommand(1);

  struct SetFlags {
    Connection c;
    int expire_days = 0;
    std::string prefix;
    int abort_days = 0;
    std::string id = "expire";
    std::string file;
  };
  auto set = std::make_shared<SetFlags>();
  CLI::App* s = cmd->add_subcommand("set", "Replace the bucket's lifecycle configuration");
  AddConnectionOptions(s, set->c, true);
  auto* days = s->add_option("--expire-days", set->expire_days, "delete objects this many days old")
                   ->check(CLI::Range(1, 100000));
  s->add_option("--prefix", set->prefix, "only keys under this prefix");
  s->add_option("--abort-multipart-days", set->abort_days,
                "abort multipart uploads unfinished after this many days")
      ->check(CLI::Range(1, 100000));
  s->add_option("--id", set->id, "rule ID (default: expire)");
  auto* file = s->add_option("--file", set->file, "a LifecycleConfiguration XML file instead");
  days->excludes(file);
  s->callback([set, &exit_code] {
    std::string xml;
    if (!set->file.empty()) {
      auto text = ReadFile(set->file, 2 << 20);
      if (!text) {
        exit_code = Fail("lifecycle set", text.error().message());
        return;
      }
      xml = *text;
    } else {
      if (set->expire_days == 0 && set->abort_days == 0) {
        exit_code =
            Fail("lifecycle set", "give --expire-days and/or --abort-multipart-days, or --file");
        return;
      }
      std::string rule = "<Rule><ID>" + XmlEscape(set->id) + "</ID><Filter><Prefix>" +
                         XmlEscape(set->prefix) + "</Prefix></Filter><Status>Enabled</Status>";
      if (set->expire_days > 0) {
        rule += "<Expiration><Days>" + std::to_string(set->expire_days) + "</Days></Expiration>";
      }
      if (set->abort_days > 0) {
        rule += "<AbortIncompleteMultipartUpload><DaysAfterInitiation>" +
                std::to_string(set->abort_days) +
                "</DaysAfterInitiation></AbortIncompleteMultipartUpload>";
      }
      xml = "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + rule +
            "</Rule></LifecycleConfiguration>";
    }
    auto parsed = lifecycle::Parse(xml);
    if (!parsed) {
      exit_code = Fail("lifecycle set",
                       (set->file.empty() ? "" : set->file + ": ") + parsed.error().message());
      return;
    }
    exit_code = WithClient("lifecycle set", set->c, [&](s3client::Client& client) -> int {
      Call call{"lifecycle set", client.Request("PUT", set->c.bucket, "", "lifecycle", xml,
                                                {{"content-type", "application/xml"}})};
      int rc = call.Check(set->c.bucket);
      if (rc == 0) {
        std::printf("lifecycle of %s set (%zu rules)\n", set->c.bucket.c_str(),
                    parsed->rules.size());
      }
      return rc;
    });
  });

  auto get = std::make_shared<Connection>();
  CLI::App* g = cmd->add_subcommand("get", "Print the bucket's lifecycle rules");
  AddConnectionOptions(g, *get, true);
  auto raw = std::make_shared<bool>(false);
  g->add_flag("--xml", *raw, "print the XML as returned");
  g->callback([get, raw, &exit_code] {
    exit_code = WithClient("lifecycle get", *get, [&](s3client::Client& client) -> int {
      Call call{"lifecycle get", client.Request("GET", get->bucket, "", "lifecycle")};
      int rc = call.Check(get->bucket);
      if (rc != 0) return rc;
      auto parsed = lifecycle::Parse(call.response->body);
      if (*raw || !parsed) {
        std::printf("%s\n", call.response->body.c_str());
        return rc;
      }
      for (const auto& r : parsed->rules) {
        std::string line = "rule " + r.id + " (" + (r.enabled ? "enabled" : "disabled") + ")";
        line += r.filter.prefix.empty() ? ": every key" : ": keys under '" + r.filter.prefix + "'";
        for (const auto& t : r.filter.tags) line += ", tag " + t.key + "=" + t.value;
        if (r.expiration_days)
          line += ", expire after " + std::to_string(*r.expiration_days) + " days";
        if (r.expiration_date_ms) line += ", expire on " + FormatIso8601(*r.expiration_date_ms);
        if (r.abort_incomplete_days) {
          line += ", abort uploads after " + std::to_string(*r.abort_incomplete_days) + " days";
        }
        std::printf("%s\n", line.c_str());
      }
      return rc;
    });
  });

  RegisterDeleteDocument(cmd, exit_code, "lifecycle",
                         "Remove the bucket's lifecycle configuration");
}

// ------------------------------------------------------------------ verify

void RegisterVerify(CLI::App& app, int& exit_code) {
  struct VerifyFlags {
    Connection c;
    std::string key = "test.txt";
    std::string expect_anonymous;
  };
  auto f = std::make_shared<VerifyFlags>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check from this machine what the bucket allows, and (on logbucket) why");
  AddConnectionOptions(cmd, f->c, true);
  cmd->add_option("--key", f->key, "object to read anonymously (default test.txt)");
  cmd->add_option("--expect-anonymous", f->expect_anonymous,
                  "fail unless anonymous reads are 'allowed' or 'denied' from here")
      ->check(CLI::IsMember({"allowed", "denied"}));
  cmd->callback([f, &exit_code] {
    Connection anon = f->c;
    anon.anonymous = true;
    auto anon_options = ClientOptionsFor(anon);
    if (!anon_options) {
      exit_code = Fail("verify", anon_options.error().message());
      return;
    }
    s3client::Client anonymous(*anon_options);
    std::unique_ptr<s3client::Client> signed_client;
    auto signed_options = ClientOptionsFor(f->c);
    if (!signed_options) {
      exit_code = Fail("verify", signed_options.error().message());
      return;
    }
    std::unique_ptr<s3client::Client> explainer;  // the explain endpoint is path-style only
    if (signed_options->credentials) {
      signed_client = std::make_unique<s3client::Client>(*signed_options);
      auto path_style = *signed_options;
      path_style.virtual_host = false;
      explainer = std::make_unique<s3client::Client>(path_style);
    }
    std::printf("verifying bucket %s at %s%s\n", f->c.bucket.c_str(),
                anon_options->endpoint.c_str(), f->c.virtual_host ? " (virtual-hosted)" : "");

    bool explain_available = signed_client != nullptr;
    auto why = [&](const s3client::S3Response& r) {
      if (!explain_available || r.request_id.empty()) return;
      auto e = explainer->Request("GET", "_logbucket", "explain",
                                  "request-id=" + UriEncode(r.request_id, false));
      if (!e || e->status == 403 || e->status == 404 || e->status >= 500 ||
          FindHeader(e->headers, "content-type").value_or("") != "application/json") {
        if (e && e->status == 404 && e->error_code == "NotFound") return;  // nothing recorded
        explain_available = false;  // not logbucket, or not an admin key
        return;
      }
      auto doc = nlohmann::json::parse(e->body, nullptr, false);
      if (!doc.is_discarded() && doc.contains("explanation")) {
        std::printf("    why: %s\n", doc["explanation"].get<std::string>().c_str());
      }
    };
    int failures = 0;
    auto report = [&](bool ok, const std::string& what, const Result<s3client::S3Response>& r,
                      bool counts) {
      std::string detail = r ? r->Summary() : r.error().message();
      std::printf("%s %s: %s\n", ok ? "\u2713" : "\u2717", what.c_str(), detail.c_str());
      if (r && !r->ok()) why(*r);
      if (!ok && counts) ++failures;
    };

    // 1. Anonymous read and list, as the web frontend does.
    auto get = anonymous.Request("GET", f->c.bucket, f->key, "");
    bool anon_ok = get && get->ok();
    bool expect_known = !f->expect_anonymous.empty();
    bool anon_as_expected = !expect_known || anon_ok == (f->expect_anonymous == "allowed");
    report(anon_as_expected && (anon_ok || expect_known), "anonymous GET " + f->key, get,
           expect_known);
    if (get && get->ok()) why(*get);
    if (get && get->status == 404) {
      // Only a read the policy let through learns that the key is missing (a denied one is 403).
      std::printf(
          "    anonymous reads are let through, but %s does not exist: upload it, or name "
          "an existing object with --key\n",
          f->key.c_str());
    }
    auto list = anonymous.Request("GET", f->c.bucket, "", "list-type=2&max-keys=1");
    report(list && list->ok(), "anonymous LIST", list, false);
    if (list && list->ok()) why(*list);

    // 2. Signed round trip of a probe object.
    if (!signed_client) {
      std::printf(
          "- signed checks skipped: no credentials (AWS_ACCESS_KEY_ID/--access-key/--profile)\n");
    } else {
      std::string probe = ".logbucket-verify/" + HexEncode(RandomBytes(8));
      std::string content = "logbucket verify probe\n";
      auto put = signed_client->Request("PUT", f->c.bucket, probe, "", content,
                                        {{"content-type", "text/plain"}});
      report(put && put->ok(), "signed PUT " + probe, put, true);
      auto back = signed_client->Request("GET", f->c.bucket, probe, "");
      bool same = back && back->ok() && back->body == content;
      report(same,
             "signed GET " + probe + (back && back->ok() && !same ? " (content differs)" : ""),
             back, true);
      auto listed = signed_client->Request("GET", f->c.bucket, "",
                                           "list-type=2&prefix=" + UriEncode(probe, false));
      bool found = listed && listed->ok() && listed->body.find(probe) != std::string::npos;
      report(found, "signed LIST", listed, true);
      auto deleted = signed_client->Request("DELETE", f->c.bucket, probe, "");
      report(deleted && deleted->ok(), "signed DELETE " + probe, deleted, true);
    }
    if (failures > 0) {
      std::printf("%d check(s) failed\n", failures);
      exit_code = 1;
    } else {
      exit_code = 0;
    }
  });
}

}  // namespace

void RegisterAdmin(CLI::App& app, int& exit_code) {
  RegisterBucket(app, exit_code);
  RegisterPolicy(app, exit_code);
  RegisterLifecycle(app, exit_code);
  RegisterVerify(app, exit_code);
}

}  // namespace logbucket::app
