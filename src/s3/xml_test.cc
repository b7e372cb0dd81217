#include "s3/xml.h"

#include <gtest/gtest.h>

namespace logbucket::s3 {
namespace {

TEST(Xml, WriterEscapesEverything) {
  XmlWriter xml("ListBucketResult");
  xml.Element("Key", "a<b>&\"c'");
  std::string out = xml.Finish();
  EXPECT_NE(out.find("<Key>a&lt;b&gt;&amp;&quot;c&apos;</Key>"), std::string::npos);
  EXPECT_NE(out.find("xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 19), "</ListBucketResult>");
}

TEST(Xml, DeleteRequest) {
  auto r = ParseDeleteRequest(
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
      "<Object><Key>a &amp; b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId>"
      "</Object></Delete>");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->quiet);
  ASSERT_EQ(r->objects.size(), 2u);
  EXPECT_EQ(r->objects[0].key, "a & b");
  EXPECT_EQ(r->objects[1].version_id, "null");
  EXPECT_EQ(ParseDeleteRequest("<Delete/>").error().code(), ErrorCode::kMalformedXML);
  EXPECT_EQ(ParseDeleteRequest("<Delete><Object/></Delete>").error().code(),
            ErrorCode::kMalformedXML);
  EXPECT_EQ(ParseDeleteRequest("<Delete><Object><Key>x</Key>").error().code(),
            ErrorCode::kMalformedXML);
  EXPECT_EQ(ParseDeleteRequest("<!DOCTYPE d [<!ENTITY x 'y'>]><Delete><Object><Key>&x;</Key>"
                               "</Object></Delete>")
                .error()
                .code(),
            ErrorCode::kMalformedXML);
}

TEST(Xml, CompleteRequest) {
  auto r = ParseCompleteRequest(
      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag>"
      "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><ETag>def</ETag><PartNumber> 2 "
      "</PartNumber></Part></CompleteMultipartUpload>");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->parts.size(), 2u);
  EXPECT_EQ(r->parts[0].etag, "abc");
  EXPECT_EQ(r->parts[1].part_number, 2);
  EXPECT_EQ(ParseCompleteRequest("<CompleteMultipartUpload/>").error().code(),
            ErrorCode::kMalformedXML);
  EXPECT_EQ(ParseCompleteRequest("<CompleteMultipartUpload><Part><PartNumber>0</PartNumber>"
                                 "<ETag>x</ETag></Part></CompleteMultipartUpload>")
                .error()
                .code(),
            ErrorCode::kMalformedXML);
}

TEST(Xml, CreateBucketConfiguration) {
  EXPECT_EQ(ParseCreateBucketRequest("")->location_constraint, "");
  EXPECT_EQ(ParseCreateBucketRequest("<CreateBucketConfiguration><LocationConstraint>eu-west-1"
                                     "</LocationConstraint></CreateBucketConfiguration>")
                ->location_constraint,
            "eu-west-1");
  EXPECT_FALSE(ParseCreateBucketRequest("<Other/>").has_value());
}

}  // namespace
}  // namespace logbucket::s3
