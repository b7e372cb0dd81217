#include "lifecycle/lifecycle.h"

#include <algorithm>
#include <pugixml.hpp>
#include <set>

#include "common/encoding.h"
#include "common/hash.h"
#include "common/xml.h"

namespace logbucket::lifecycle {
namespace {

Status Malformed(std::string message) {
  return Error(ErrorCode::kMalformedXML, std::move(message));
}
Status Invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string Text(const pugi::xml_node& node) {
  return std::string(TrimWhitespace(node.child_value()));
}

Result<int> PositiveDays(const pugi::xml_node& node, const std::string& what) {
  auto n = ParseDecimal(Text(node));
  if (!n || *n <= 0 || *n > 100000) return Invalid("'" + what + "' must be a positive integer");
  return static_cast<int>(*n);
}

Result<uint64_t> Size(const pugi::xml_node& node, const std::string& what) {
  auto n = ParseDecimal(Text(node));
  if (!n) return Invalid("'" + what + "' must be a non-negative integer");
  return static_cast<uint64_t>(*n);
}

Result<Tag> ParseTag(const pugi::xml_node& node, const std::string& where) {
  Tag t;
  pugi::xml_node k = XmlChild(node, "Key"), v = XmlChild(node, "Value");
  if (!k) return Malformed(where + ": a Tag needs a Key");
  t.key = k.child_value();
  t.value = v ? v.child_value() : "";
  if (t.key.empty() || t.key.size() > 128 || t.value.size() > 256) {
    return Invalid(where + ": tag keys are 1-128 characters and values at most 256");
  }
  return t;
}

// One condition of a filter (inside <Filter> or <And>).
// `prefix_seen`: whether an earlier condition of the same filter named a prefix.
Status ParseFilterPart(const pugi::xml_node& c, Filter& f, bool& prefix_seen,
                       const std::string& where) {
  std::string_view name = XmlLocalName(c);
  if (name == "Prefix") {
    // Two prefixes (side by side and inside <And>, as RGW accepts): a key must start with
    // both, so the longer one holds if the other begins it; otherwise nothing could match.
    std::string prefix = c.child_value();
    if (prefix_seen && prefix.rfind(f.prefix, 0) != 0 && f.prefix.rfind(prefix, 0) != 0) {
      return Invalid(where + ": the prefixes '" + f.prefix + "' and '" + prefix +
                     "' cannot both hold");
    }
    if (!prefix_seen || prefix.size() > f.prefix.size()) f.prefix = std::move(prefix);
    prefix_seen = true;
  } else if (name == "Tag") {
    auto t = ParseTag(c, where);
    if (!t) return t.error();
    for (const Tag& existing : f.tags) {
      if (existing.key == t->key) return Invalid(where + ": duplicate tag key " + t->key);
    }
    // Objects carry at most 10 tags, so a filter needing more could never match.
    if (f.tags.size() == 10) return Invalid(where + ": a filter names at most 10 tags");
    f.tags.push_back(std::move(*t));
  } else if (name == "ObjectSizeGreaterThan") {
    auto n = Size(c, "ObjectSizeGreaterThan");
    if (!n) return n.error();
    f.size_greater_than = *n;
  } else if (name == "ObjectSizeLessThan") {
    auto n = Size(c, "ObjectSizeLessThan");
    if (!n) return n.error();
    f.size_less_than = *n;
  } else {
    return Malformed(where + ": unexpected element <" + std::string(name) + "> in Filter");
  }
  return Status::Ok();
}

Status ParseFilter(const pugi::xml_node& node, Rule& rule, const std::string& where) {
  int parts = 0;
  bool prefix_seen = false;
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    ++parts;
    if (XmlLocalName(c) == "And") {
      rule.filter_and = true;
      for (pugi::xml_node a = c.first_child(); a; a = a.next_sibling()) {
        if (a.type() != pugi::node_element) continue;
        LB_RETURN_IF_ERROR(ParseFilterPart(a, rule.filter, prefix_seen, where + " And"));
      }
    } else {
      LB_RETURN_IF_ERROR(ParseFilterPart(c, rule.filter, prefix_seen, where));
    }
  }
  // Several conditions without <And>, or beside one: AWS refuses them, Ceph RGW (the
  // production store) reads them as all required. Configurations that work there work here;
  // stored as one <And>.
  if (parts > 1) rule.filter_and = true;
  if (rule.filter.size_greater_than && rule.filter.size_less_than &&
      *rule.filter.size_greater_than >= *rule.filter.size_less_than) {
    return Invalid(where + ": ObjectSizeGreaterThan must be less than ObjectSizeLessThan");
  }
  return Status::Ok();
}

Result<Rule> ParseRule(const pugi::xml_node& node, size_t index) {
  std::string where = "Rule " + std::to_string(index + 1);
  Rule rule;
  bool has_status = false, has_filter = false, has_prefix = false, has_action = false;
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    std::string_view name = XmlLocalName(c);
    if (name == "ID") {
      rule.id = c.child_value();
      if (rule.id.size() > kMaxRuleIdLength) {
        return Invalid("ID length should not exceed allowed limit of 255");
      }
      where = "Rule '" + rule.id + "'";
    } else if (name == "Status") {
      has_status = true;
      std::string status = Text(c);
      if (status != "Enabled" && status != "Disabled") {
        return Malformed(where + ": Status must be Enabled or Disabled, not '" + status + "'");
      }
      rule.enabled = status == "Enabled";
    } else if (name == "Prefix") {
      has_prefix = true;
      rule.form = Rule::Form::kLegacyPrefix;
      rule.filter.prefix = c.child_value();
    } else if (name == "Filter") {
      has_filter = true;
      rule.form = Rule::Form::kFilter;
      LB_RETURN_IF_ERROR(ParseFilter(c, rule, where));
    } else if (name == "Expiration") {
      has_action = true;
      int parts = 0;
      for (pugi::xml_node e = c.first_child(); e; e = e.next_sibling()) {
        if (e.type() != pugi::node_element) continue;
        ++parts;
        std::string_view en = XmlLocalName(e);
        if (en == "Days") {
          auto days = PositiveDays(e, "Days' for Expiration action");
          if (!days) return days.error();
          rule.expiration_days = *days;
        } else if (en == "Date") {
          auto date = ParseIso8601(Text(e));
          if (!date) return Invalid(where + ": Expiration Date is not an ISO 8601 date");
          if (*date % kDayMs != 0) return Invalid("'Date' must be at midnight GMT");
          rule.expiration_date_ms = *date;
        } else if (en == "ExpiredObjectDeleteMarker") {
          std::string v = Text(e);
          if (v != "true" && v != "false") {
            return Malformed(where + ": ExpiredObjectDeleteMarker must be true or false");
          }
          rule.expired_object_delete_marker = v == "true";
        } else {
          return Malformed(where + ": unexpected element <" + std::string(en) + "> in Expiration");
        }
      }
      if (parts != 1) {
        return Malformed(
            where + ": Expiration takes exactly one of Days, Date or ExpiredObjectDeleteMarker");
      }
    } else if (name == "AbortIncompleteMultipartUpload") {
      has_action = true;
      pugi::xml_node d = XmlChild(c, "DaysAfterInitiation");
      if (!d)
        return Malformed(where + ": AbortIncompleteMultipartUpload needs DaysAfterInitiation");
      auto days = PositiveDays(d, "DaysAfterInitiation");
      if (!days) return days.error();
      rule.abort_incomplete_days = *days;
    } else if (name == "NoncurrentVersionExpiration") {
      has_action = true;
      pugi::xml_node d = XmlChild(c, "NoncurrentDays");
      if (!d) return Malformed(where + ": NoncurrentVersionExpiration needs NoncurrentDays");
      auto days = PositiveDays(d, "NoncurrentDays");
      if (!days) return days.error();
      rule.noncurrent_days = *days;
    } else if (name == "Transition" || name == "NoncurrentVersionTransition") {
      return Error(ErrorCode::kNotImplemented,
                   where + ": " + std::string(name) +
                       " is not supported: logbucket has a single storage class (STANDARD)");
    } else {
      return Malformed(where + ": unexpected element <" + std::string(name) + "> in Rule");
    }
  }
  if (!has_status) return Malformed(where + ": Status is required");
  if (has_prefix && has_filter) {
    return Malformed(where + ": a rule cannot have both Prefix and Filter");
  }
  if (!has_action) {
    return Error(ErrorCode::kInvalidRequest,
                 where + ": At least one action needs to be specified in a rule");
  }
  if (rule.abort_incomplete_days && !rule.filter.tags.empty()) {
    return Error(ErrorCode::kInvalidRequest,
                 where + ": AbortIncompleteMultipartUpload cannot be specified with Tags");
  }
  if (rule.id.empty()) rule.id = HexEncode(RandomBytes(12));  // as AWS, which invents one
  return rule;
}

std::string HttpDate(int64_t ms) { return FormatHttpDate(ms); }

// "k1=v1&k2=v2" (URL-encoded) → tags; nullopt on a malformed escape.
std::optional<std::vector<Tag>> SplitTagPairs(std::string_view urlencoded) {
  std::vector<Tag> out;
  for (std::string_view pair : Split(urlencoded, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = UriDecode(pair.substr(0, eq), true);
    auto v = eq == std::string_view::npos ? std::optional<std::string>("")
                                          : UriDecode(pair.substr(eq + 1), true);
    if (!k || !v) return std::nullopt;
    out.push_back({std::move(*k), std::move(*v)});
  }
  return out;
}

int64_t NextMidnight(int64_t ms) { return (ms / kDayMs) * kDayMs + kDayMs; }

}  // namespace

Result<Configuration> Parse(std::string_view xml) {
  pugi::xml_document doc;
  auto loaded = LoadXml(doc, xml);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (XmlLocalName(root) != "LifecycleConfiguration") {
    return Malformed("The root element must be LifecycleConfiguration");
  }
  Configuration config;
  std::set<std::string> ids;
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (XmlLocalName(c) != "Rule") {
      return Malformed("unexpected element <" + std::string(XmlLocalName(c)) +
                       "> in LifecycleConfiguration");
    }
    if (config.rules.size() == kMaxRules) {
      return Invalid("A lifecycle configuration holds at most 1000 rules");
    }
    auto rule = ParseRule(c, config.rules.size());
    if (!rule) return rule.error();
    if (!ids.insert(rule->id).second) {
      return Invalid("Rule ID must be unique. Found same ID for more than one rule: '" + rule->id +
                     "'");
    }
    config.rules.push_back(std::move(*rule));
  }
  if (config.rules.empty()) return Malformed("A lifecycle configuration needs at least one Rule");
  return config;
}

std::string ToXml(const Configuration& config) {
  XmlWriter xml("LifecycleConfiguration");
  for (const Rule& r : config.rules) {
    xml.Open("Rule").Element("ID", r.id);
    if (r.form == Rule::Form::kLegacyPrefix) {
      xml.Element("Prefix", r.filter.prefix);
    } else if (r.form == Rule::Form::kFilter) {
      xml.Open("Filter");
      if (r.filter_and) xml.Open("And");
      // Inside <And> an empty prefix is left out; alone, the one condition is written, and an
      // empty filter reads back as an empty <Prefix/> (what AWS returns for "<Filter/>").
      bool only_prefix =
          r.filter.tags.empty() && !r.filter.size_greater_than && !r.filter.size_less_than;
      if (!r.filter.prefix.empty() || (!r.filter_and && only_prefix)) {
        xml.Element("Prefix", r.filter.prefix);
      }
      for (const Tag& t : r.filter.tags) {
        xml.Open("Tag").Element("Key", t.key).Element("Value", t.value).Close("Tag");
      }
      if (r.filter.size_greater_than) {
        xml.Element("ObjectSizeGreaterThan", std::to_string(*r.filter.size_greater_than));
      }
      if (r.filter.size_less_than) {
        xml.Element("ObjectSizeLessThan", std::to_string(*r.filter.size_less_than));
      }
      if (r.filter_and) xml.Close("And");
      xml.Close("Filter");
    }
    xml.Element("Status", r.enabled ? "Enabled" : "Disabled");
    if (r.expiration_days || r.expiration_date_ms || r.expired_object_delete_marker) {
      xml.Open("Expiration");
      if (r.expiration_days) xml.Element("Days", std::to_string(*r.expiration_days));
      if (r.expiration_date_ms) xml.Element("Date", FormatIso8601(*r.expiration_date_ms));
      if (r.expired_object_delete_marker) xml.Element("ExpiredObjectDeleteMarker", "true");
      xml.Close("Expiration");
    }
    if (r.noncurrent_days) {
      xml.Open("NoncurrentVersionExpiration")
          .Element("NoncurrentDays", std::to_string(*r.noncurrent_days))
          .Close("NoncurrentVersionExpiration");
    }
    if (r.abort_incomplete_days) {
      xml.Open("AbortIncompleteMultipartUpload")
          .Element("DaysAfterInitiation", std::to_string(*r.abort_incomplete_days))
          .Close("AbortIncompleteMultipartUpload");
    }
    xml.Close("Rule");
  }
  return xml.Finish();
}

bool Matches(const Rule& rule, std::string_view key, uint64_t size, const std::vector<Tag>& tags) {
  const Filter& f = rule.filter;
  if (!key.starts_with(f.prefix)) return false;
  if (f.size_greater_than && !(size > *f.size_greater_than)) return false;
  if (f.size_less_than && !(size < *f.size_less_than)) return false;
  for (const Tag& want : f.tags) {
    bool found = false;
    for (const Tag& t : tags) {
      if (t.key == want.key && t.value == want.value) found = true;
    }
    if (!found) return false;
  }
  return true;
}

std::optional<Expiry> ObjectExpiry(const Configuration& config, std::string_view key, uint64_t size,
                                   const std::vector<Tag>& tags, int64_t last_modified_ms,
                                   int64_t day_ms) {
  std::optional<Expiry> best;
  for (const Rule& r : config.rules) {
    if (!r.enabled || !Matches(r, key, size, tags)) continue;
    std::optional<int64_t> at;
    if (r.expiration_days) {
      int64_t span = static_cast<int64_t>(*r.expiration_days) * day_ms;
      at = day_ms == kDayMs ? NextMidnight(last_modified_ms + span) : last_modified_ms + span;
    } else if (r.expiration_date_ms) {
      at = *r.expiration_date_ms;
    }
    if (at && (!best || *at < best->at_ms)) best = Expiry{*at, r.id};
  }
  return best;
}

std::optional<std::string> ExpirationHeader(const Configuration& config, std::string_view key,
                                            uint64_t size, const std::vector<Tag>& tags,
                                            int64_t last_modified_ms) {
  auto e = ObjectExpiry(config, key, size, tags, last_modified_ms, kDayMs);
  if (!e) return std::nullopt;
  return "expiry-date=\"" + HttpDate(e->at_ms) + "\", rule-id=\"" + e->rule_id + "\"";
}

std::vector<Tag> ParseTagSet(std::string_view urlencoded) {
  // Stored sets were validated and encoded by us on the way in; anything else reads as none.
  return SplitTagPairs(urlencoded).value_or(std::vector<Tag>{});
}

namespace {

Status ValidateTags(const std::vector<Tag>& tags) {
  if (tags.size() > 10)
    return Error(ErrorCode::kInvalidTag, "Object tags cannot be greater than 10");
  std::set<std::string> keys;
  for (const Tag& t : tags) {
    if (t.key.empty() || t.key.size() > 128) {
      return Error(ErrorCode::kInvalidTag, "The TagKey you have provided is invalid");
    }
    if (t.value.size() > 256) {
      return Error(ErrorCode::kInvalidTag, "The TagValue you have provided is invalid");
    }
    if (!keys.insert(t.key).second) {
      return Error(ErrorCode::kInvalidTag, "Cannot provide multiple Tags with the same key");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeTagSet(const std::vector<Tag>& tags) {
  std::string out;
  for (const Tag& t : tags) {
    if (!out.empty()) out.push_back('&');
    out += UriEncode(t.key, false) + "=" + UriEncode(t.value, false);
  }
  return out;
}

Result<std::vector<Tag>> ParseTaggingHeader(std::string_view urlencoded) {
  auto tags = SplitTagPairs(urlencoded);
  if (!tags) {
    return Error(ErrorCode::kInvalidArgument, "The x-amz-tagging header is not URL-encoded");
  }
  LB_RETURN_IF_ERROR(ValidateTags(*tags));
  return *tags;
}

Result<std::vector<Tag>> ParseTaggingXml(std::string_view xml) {
  pugi::xml_document doc;
  auto loaded = LoadXml(doc, xml);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (XmlLocalName(root) != "Tagging") return Malformed("The root element must be Tagging");
  pugi::xml_node set = XmlChild(root, "TagSet");
  if (!set) return Malformed("Tagging needs a TagSet");
  std::vector<Tag> out;
  for (pugi::xml_node t = set.first_child(); t; t = t.next_sibling()) {
    if (t.type() != pugi::node_element) continue;
    if (XmlLocalName(t) != "Tag") return Malformed("TagSet holds only Tag elements");
    pugi::xml_node k = XmlChild(t, "Key"), v = XmlChild(t, "Value");
    if (!k) return Malformed("a Tag needs a Key");
    out.push_back({k.child_value(), v ? v.child_value() : ""});
    if (out.size() > 10) break;
  }
  LB_RETURN_IF_ERROR(ValidateTags(out));
  return out;
}

std::string TaggingXml(std::vector<Tag> tags) {
  // A tag set has no order: listed by key, as RGW lists them (one answer for one set).
  std::sort(tags.begin(), tags.end(), [](const Tag& a, const Tag& b) { return a.key < b.key; });
  XmlWriter xml("Tagging");
  xml.Open("TagSet");
  for (const Tag& t : tags)
    xml.Open("Tag").Element("Key", t.key).Element("Value", t.value).Close("Tag");
  xml.Close("TagSet");
  return xml.Finish();
}

}  // namespace logbucket::lifecycle
