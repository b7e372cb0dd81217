#include "s3/acl.h"

#include <algorithm>
#include <array>
#include <pugixml.hpp>

#include "common/encoding.h"
#include "s3/xml.h"

namespace logbucket::s3 {
namespace {

constexpr size_t kMaxGrants = 100;  // AWS's limit per ACL

constexpr std::string_view kAllUsersUri = "http://acs.amazonaws.com/groups/global/AllUsers";
constexpr std::string_view kAuthenticatedUsersUri =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
constexpr std::string_view kLogDeliveryUri = "http://acs.amazonaws.com/groups/s3/LogDelivery";

struct PermissionName {
  unsigned bits;
  std::string_view name;
};
constexpr std::array<PermissionName, 5> kPermissions = {{{kAclRead, "READ"},
                                                         {kAclWrite, "WRITE"},
                                                         {kAclReadAcp, "READ_ACP"},
                                                         {kAclWriteAcp, "WRITE_ACP"},
                                                         {kAclFullControl, "FULL_CONTROL"}}};

std::optional<unsigned> ParsePermission(std::string_view name) {
  for (const auto& p : kPermissions) {
    if (p.name == name) return p.bits;
  }
  return std::nullopt;
}

std::string_view PermissionText(unsigned bits) {
  for (const auto& p : kPermissions) {
    if (p.bits == bits) return p.name;
  }
  return "FULL_CONTROL";
}

std::optional<AclGrant::Grantee> GroupFromUri(std::string_view uri) {
  if (uri == kAllUsersUri) return AclGrant::Grantee::kAllUsers;
  if (uri == kAuthenticatedUsersUri) return AclGrant::Grantee::kAuthenticatedUsers;
  if (uri == kLogDeliveryUri) return AclGrant::Grantee::kLogDelivery;
  return std::nullopt;
}

std::string_view GroupUri(AclGrant::Grantee grantee) {
  switch (grantee) {
    case AclGrant::Grantee::kAllUsers:
      return kAllUsersUri;
    case AclGrant::Grantee::kAuthenticatedUsers:
      return kAuthenticatedUsersUri;
    case AclGrant::Grantee::kLogDelivery:
      return kLogDeliveryUri;
    case AclGrant::Grantee::kUser:
      break;
  }
  return {};
}

// Stored group names.
std::string_view GroupName(AclGrant::Grantee grantee) {
  switch (grantee) {
    case AclGrant::Grantee::kAllUsers:
      return "AllUsers";
    case AclGrant::Grantee::kAuthenticatedUsers:
      return "AuthenticatedUsers";
    case AclGrant::Grantee::kLogDelivery:
      return "LogDelivery";
    case AclGrant::Grantee::kUser:
      break;
  }
  return {};
}

AclGrant UserGrant(std::string user, unsigned permission) {
  return {AclGrant::Grantee::kUser, std::move(user), permission};
}

AclGrant GroupGrant(AclGrant::Grantee group, unsigned permission) {
  return {group, {}, permission};
}

Status CheckUser(const std::string& id, const AclContext& context) {
  if (id.empty() || !context.user_exists || !context.user_exists(id)) {
    return Error(ErrorCode::kInvalidArgument, "Invalid id: no user '" + id + "'");
  }
  return Status::Ok();
}

Result<Acl> CannedAcl(std::string_view name, const AclContext& context) {
  using G = AclGrant::Grantee;
  Acl acl;
  if (name == "public-read") {
    acl.grants.push_back(GroupGrant(G::kAllUsers, kAclRead));
  } else if (name == "public-read-write") {
    acl.grants.push_back(GroupGrant(G::kAllUsers, kAclRead));
    acl.grants.push_back(GroupGrant(G::kAllUsers, kAclWrite));
  } else if (name == "authenticated-read") {
    acl.grants.push_back(GroupGrant(G::kAuthenticatedUsers, kAclRead));
  } else if (name == "log-delivery-write") {
    acl.grants.push_back(GroupGrant(G::kLogDelivery, kAclWrite));
    acl.grants.push_back(GroupGrant(G::kLogDelivery, kAclReadAcp));
  } else if (name == "aws-exec-read") {
    return Error(ErrorCode::kNotImplemented,
                 "Canned ACL 'aws-exec-read' grants to Amazon EC2, which is not here.");
  } else if (name != "private" && name != "bucket-owner-read" &&
             name != "bucket-owner-full-control") {
    return Error(ErrorCode::kInvalidArgument, "Unknown canned ACL '" + std::string(name) + "'");
  }
  acl.grants.push_back(UserGrant(context.owner, kAclFullControl));
  // On a bucket these two mean private (AWS ignores them there).
  if (!context.for_bucket && context.bucket_owner != context.owner) {
    if (name == "bucket-owner-read")
      acl.grants.push_back(UserGrant(context.bucket_owner, kAclRead));
    if (name == "bucket-owner-full-control") {
      acl.grants.push_back(UserGrant(context.bucket_owner, kAclFullControl));
    }
  }
  return acl;
}

// One x-amz-grant-* value: `id="a", uri="http://…/AllUsers", emailAddress="x@y"`.
Status AddHeaderGrants(std::string_view value, unsigned permission, const AclContext& context,
                       Acl& acl) {
  for (std::string_view item : Split(value, ',')) {
    item = TrimWhitespace(item);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "Grantee must be type=\"value\": " + std::string(item));
    }
    std::string type = AsciiLower(TrimWhitespace(item.substr(0, eq)));
    std::string_view v = TrimWhitespace(item.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (type == "id") {
      std::string id(v);
      LB_RETURN_IF_ERROR(CheckUser(id, context));
      acl.grants.push_back(UserGrant(std::move(id), permission));
    } else if (type == "uri") {
      auto group = GroupFromUri(v);
      if (!group) return Error(ErrorCode::kInvalidArgument, "Invalid group uri " + std::string(v));
      acl.grants.push_back(GroupGrant(*group, permission));
    } else if (type == "emailaddress") {
      return Error(ErrorCode::kUnresolvableGrantByEmailAddress);
    } else {
      return Error(ErrorCode::kInvalidArgument, "Unknown grantee type '" + type + "'");
    }
    if (acl.grants.size() > kMaxGrants) {
      return Error(ErrorCode::kInvalidArgument, "An ACL holds at most 100 grants");
    }
  }
  return Status::Ok();
}

}  // namespace

Acl PrivateAcl(const std::string& owner) { return Acl{{UserGrant(owner, kAclFullControl)}}; }

std::string EncodeAcl(const Acl& acl, const std::string& owner) {
  if (acl == PrivateAcl(owner)) return {};
  std::string out = "v1";
  for (const AclGrant& g : acl.grants) {
    out.push_back(',');
    out += PermissionText(g.permission);
    out += g.grantee == AclGrant::Grantee::kUser ? ":user:" : ":group:";
    out += g.grantee == AclGrant::Grantee::kUser ? std::string_view(g.user) : GroupName(g.grantee);
  }
  return out;
}

Acl DecodeAcl(std::string_view stored, const std::string& owner) {
  auto items = Split(stored, ',');
  if (stored.empty() || items.empty() || items[0] != "v1") return PrivateAcl(owner);
  Acl acl;
  for (size_t i = 1; i < items.size(); ++i) {
    auto parts = Split(items[i], ':');
    if (parts.size() != 3) return PrivateAcl(owner);
    auto permission = ParsePermission(parts[0]);
    if (!permission) return PrivateAcl(owner);
    if (parts[1] == "user") {
      acl.grants.push_back(UserGrant(std::string(parts[2]), *permission));
      continue;
    }
    using G = AclGrant::Grantee;
    std::optional<G> group;
    for (G g : {G::kAllUsers, G::kAuthenticatedUsers, G::kLogDelivery}) {
      if (GroupName(g) == parts[2]) group = g;
    }
    if (!group) return PrivateAcl(owner);
    acl.grants.push_back(GroupGrant(*group, *permission));
  }
  return acl;
}

Result<std::optional<Acl>> AclFromHeaders(const Headers& headers, const AclContext& context) {
  static constexpr std::array<std::pair<std::string_view, unsigned>, 5> kGrantHeaders = {{
      {"x-amz-grant-read", kAclRead},
      {"x-amz-grant-write", kAclWrite},
      {"x-amz-grant-read-acp", kAclReadAcp},
      {"x-amz-grant-write-acp", kAclWriteAcp},
      {"x-amz-grant-full-control", kAclFullControl},
  }};
  auto canned = FindHeader(headers, "x-amz-acl");
  bool any_grant = false;
  Acl acl;
  for (const auto& [name, permission] : kGrantHeaders) {
    for (const Header& h : headers) {
      if (h.name != name) continue;
      any_grant = true;
      LB_RETURN_IF_ERROR(AddHeaderGrants(h.value, permission, context, acl));
    }
  }
  if (canned && any_grant) {
    return Error(ErrorCode::kInvalidRequest,
                 "Specifying both Canned ACLs and Header Grants is not allowed");
  }
  if (canned) {
    auto parsed = CannedAcl(TrimWhitespace(*canned), context);
    if (!parsed) return parsed.error();
    return std::optional<Acl>(std::move(*parsed));
  }
  if (any_grant) return std::optional<Acl>(std::move(acl));
  return std::optional<Acl>();
}

Result<Acl> AclFromXml(std::string_view body, const AclContext& context) {
  pugi::xml_document doc;
  auto loaded = LoadXml(doc, body);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (XmlLocalName(root) != "AccessControlPolicy") {
    return Error(ErrorCode::kMalformedACLError, "the root element must be AccessControlPolicy");
  }
  if (pugi::xml_node owner = XmlChild(root, "Owner")) {
    std::string id = XmlChild(owner, "ID").text().get();
    if (!id.empty() && id != context.owner) {
      return Error(ErrorCode::kAccessDenied, "The Owner ID must be the current owner's");
    }
  }
  Acl acl;
  pugi::xml_node list = XmlChild(root, "AccessControlList");
  if (!list) return Error(ErrorCode::kMalformedACLError, "AccessControlList is missing");
  for (pugi::xml_node grant : list.children()) {
    if (grant.type() != pugi::node_element) continue;
    if (XmlLocalName(grant) != "Grant") {
      return Error(ErrorCode::kMalformedACLError, "unexpected element in AccessControlList");
    }
    auto permission = ParsePermission(XmlChild(grant, "Permission").text().get());
    if (!permission) return Error(ErrorCode::kMalformedACLError, "unknown Permission");
    pugi::xml_node grantee = XmlChild(grant, "Grantee");
    if (!grantee) return Error(ErrorCode::kMalformedACLError, "Grant without a Grantee");
    std::string type;
    for (pugi::xml_attribute a : grantee.attributes()) {
      std::string_view name = a.name();
      size_t colon = name.find(':');
      if ((colon == std::string_view::npos ? name : name.substr(colon + 1)) == "type") {
        type = a.value();
      }
    }
    if (type == "CanonicalUser") {
      std::string id = XmlChild(grantee, "ID").text().get();
      LB_RETURN_IF_ERROR(CheckUser(id, context));
      acl.grants.push_back(UserGrant(std::move(id), *permission));
    } else if (type == "Group") {
      auto group = GroupFromUri(XmlChild(grantee, "URI").text().get());
      if (!group) return Error(ErrorCode::kInvalidArgument, "Invalid group uri");
      acl.grants.push_back(GroupGrant(*group, *permission));
    } else if (type == "AmazonCustomerByEmail") {
      return Error(ErrorCode::kUnresolvableGrantByEmailAddress);
    } else {
      return Error(ErrorCode::kMalformedACLError, "Grantee needs xsi:type CanonicalUser or Group");
    }
    if (acl.grants.size() > kMaxGrants) {
      return Error(ErrorCode::kMalformedACLError, "An ACL holds at most 100 grants");
    }
  }
  return acl;
}

std::string AclToXml(const Acl& acl, const std::string& owner) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>";
  out += XmlEscape(owner);
  out += "</ID><DisplayName>";
  out += XmlEscape(owner);
  out += "</DisplayName></Owner><AccessControlList>";
  // Group grants first, then users', each in the order given (RGW's order; clients that sort
  // grants by display name cannot compare a group's missing name with a user's).
  std::vector<AclGrant> grants = acl.grants;
  std::stable_partition(grants.begin(), grants.end(),
                        [](const AclGrant& g) { return g.grantee != AclGrant::Grantee::kUser; });
  for (const AclGrant& g : grants) {
    out +=
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"";
    if (g.grantee == AclGrant::Grantee::kUser) {
      out += "CanonicalUser\"><ID>";
      out += XmlEscape(g.user);
      out += "</ID><DisplayName>";
      out += XmlEscape(g.user);
      out += "</DisplayName>";
    } else {
      out += "Group\"><URI>";
      out += GroupUri(g.grantee);
      out += "</URI>";
    }
    out += "</Grantee><Permission>";
    out += PermissionText(g.permission);
    out += "</Permission></Grant>";
  }
  out += "</AccessControlList></AccessControlPolicy>";
  return out;
}

bool AclAllows(const Acl& acl, std::string_view user, unsigned needed) {
  if (needed == 0) return false;
  unsigned granted = 0;
  for (const AclGrant& g : acl.grants) {
    switch (g.grantee) {
      case AclGrant::Grantee::kAllUsers:
        granted |= g.permission;
        break;
      case AclGrant::Grantee::kAuthenticatedUsers:
        if (!user.empty()) granted |= g.permission;
        break;
      case AclGrant::Grantee::kUser:
        if (!user.empty() && g.user == user) granted |= g.permission;
        break;
      case AclGrant::Grantee::kLogDelivery:
        break;  // no log delivery service here
    }
  }
  return (granted & needed) == needed;
}

unsigned AclPermissionFor(std::string_view action, bool on_object) {
  // AWS, "Mapping of ACL permissions and access policy permissions".
  if (on_object) {
    if (action == "s3:GetObject" || action == "s3:GetObjectAttributes") return kAclRead;
    if (action == "s3:GetObjectAcl") return kAclReadAcp;
    if (action == "s3:PutObjectAcl") return kAclWriteAcp;
    return 0;
  }
  if (action == "s3:ListBucket" || action == "s3:ListBucketVersions" ||
      action == "s3:ListBucketMultipartUploads") {
    return kAclRead;
  }
  if (action == "s3:PutObject" || action == "s3:DeleteObject" ||
      action == "s3:AbortMultipartUpload") {
    return kAclWrite;
  }
  if (action == "s3:GetBucketAcl") return kAclReadAcp;
  if (action == "s3:PutBucketAcl") return kAclWriteAcp;
  return 0;
}

bool AclIsPublic(const Acl& acl) {
  for (const AclGrant& g : acl.grants) {
    if (g.grantee == AclGrant::Grantee::kAllUsers ||
        g.grantee == AclGrant::Grantee::kAuthenticatedUsers) {
      return true;
    }
  }
  return false;
}

Acl WithoutPublicGrants(Acl acl) {
  std::erase_if(acl.grants, [](const AclGrant& g) {
    return g.grantee == AclGrant::Grantee::kAllUsers ||
           g.grantee == AclGrant::Grantee::kAuthenticatedUsers;
  });
  return acl;
}

Result<std::string> ParseObjectOwnership(std::string_view value) {
  for (std::string_view known : {kBucketOwnerEnforced, kBucketOwnerPreferred, kObjectWriter}) {
    if (value == known) return std::string(known);
  }
  return Error(ErrorCode::kInvalidArgument,
               "ObjectOwnership must be BucketOwnerEnforced, BucketOwnerPreferred or "
               "ObjectWriter");
}

Result<std::string> ParseOwnershipControls(std::string_view body) {
  pugi::xml_document doc;
  auto loaded = LoadXml(doc, body);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  pugi::xml_node rule = XmlChild(root, "Rule");
  if (XmlLocalName(root) != "OwnershipControls" || !rule || rule.next_sibling("Rule")) {
    return Error(ErrorCode::kMalformedXML, "OwnershipControls needs exactly one Rule");
  }
  auto parsed = ParseObjectOwnership(XmlChild(rule, "ObjectOwnership").text().get());
  if (!parsed) return Error(ErrorCode::kMalformedXML, parsed.error().message());
  return parsed;
}

std::string OwnershipControlsXml(std::string_view ownership) {
  XmlWriter xml("OwnershipControls");
  xml.Open("Rule").Element("ObjectOwnership", ownership).Close("Rule");
  return xml.Finish();
}

PublicAccessBlock PublicAccessBlock::FromStored(std::string_view flags) {
  PublicAccessBlock b;
  if (flags.size() != 4) return b;
  b.block_public_acls = flags[0] == '1';
  b.ignore_public_acls = flags[1] == '1';
  b.block_public_policy = flags[2] == '1';
  b.restrict_public_buckets = flags[3] == '1';
  return b;
}

std::string PublicAccessBlock::ToStored() const {
  std::string out;
  for (bool flag :
       {block_public_acls, ignore_public_acls, block_public_policy, restrict_public_buckets}) {
    out.push_back(flag ? '1' : '0');
  }
  return out;
}

Result<PublicAccessBlock> ParsePublicAccessBlock(std::string_view body) {
  pugi::xml_document doc;
  auto loaded = LoadXml(doc, body);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (XmlLocalName(root) != "PublicAccessBlockConfiguration") {
    return Error(ErrorCode::kMalformedXML,
                 "the root element must be PublicAccessBlockConfiguration");
  }
  PublicAccessBlock b;
  for (pugi::xml_node field : root.children()) {
    if (field.type() != pugi::node_element) continue;
    std::string_view name = XmlLocalName(field);
    std::string value = AsciiLower(TrimWhitespace(field.text().get()));
    if (value != "true" && value != "false") {
      return Error(ErrorCode::kMalformedXML, std::string(name) + " must be true or false");
    }
    const bool on = value == "true";
    if (name == "BlockPublicAcls") {
      b.block_public_acls = on;
    } else if (name == "IgnorePublicAcls") {
      b.ignore_public_acls = on;
    } else if (name == "BlockPublicPolicy") {
      b.block_public_policy = on;
    } else if (name == "RestrictPublicBuckets") {
      b.restrict_public_buckets = on;
    } else {
      return Error(ErrorCode::kMalformedXML, "unknown element " + std::string(name));
    }
  }
  return b;
}

std::string PublicAccessBlockXml(const PublicAccessBlock& b) {
  XmlWriter xml("PublicAccessBlockConfiguration");
  xml.Element("BlockPublicAcls", b.block_public_acls ? "true" : "false");
  xml.Element("IgnorePublicAcls", b.ignore_public_acls ? "true" : "false");
  xml.Element("BlockPublicPolicy", b.block_public_policy ? "true" : "false");
  xml.Element("RestrictPublicBuckets", b.restrict_public_buckets ? "true" : "false");
  return xml.Finish();
}

}  // namespace logbucket::s3
