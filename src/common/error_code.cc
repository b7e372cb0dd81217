#include "common/error_code.h"

#include <array>

#include "common/status.h"

namespace logbucket {
namespace {

struct Row {
  ErrorCode code;
  ErrorInfo info;
};

// Codes, statuses and messages follow the S3 API reference's "List of error codes".
constexpr std::array kTable = {
    Row{ErrorCode::kOk, {"", 200, "OK"}},
    Row{ErrorCode::kAccessDenied, {"AccessDenied", 403, "Access Denied"}},
    Row{ErrorCode::kAccessControlListNotSupported,
        {"AccessControlListNotSupported", 400,
         "The bucket does not allow ACLs (object ownership is BucketOwnerEnforced)."}},
    Row{ErrorCode::kAccessForbidden,
        {"AccessForbidden", 403,
         "CORSResponse: This CORS request is not allowed. This is usually because the "
         "evaluation of Origin, request method / Access-Control-Request-Method or "
         "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."}},
    Row{ErrorCode::kAuthorizationHeaderMalformed,
        {"AuthorizationHeaderMalformed", 400, "The authorization header is malformed."}},
    Row{ErrorCode::kAuthorizationQueryParametersError,
        {"AuthorizationQueryParametersError", 400,
         "Error parsing the X-Amz-Credential parameter or another presigned query parameter."}},
    Row{ErrorCode::kBadDigest,
        {"BadDigest", 400, "The Content-MD5 you specified did not match what we received."}},
    Row{ErrorCode::kBadRequest, {"BadRequest", 400, "Bad Request"}},
    Row{ErrorCode::kBucketAlreadyExists,
        {"BucketAlreadyExists", 409,
         "The requested bucket name is not available. Please select a different name."}},
    Row{ErrorCode::kBucketAlreadyOwnedByYou,
        {"BucketAlreadyOwnedByYou", 409,
         "Your previous request to create the named bucket succeeded and you already own it."}},
    Row{ErrorCode::kBucketNotEmpty,
        {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty."}},
    Row{ErrorCode::kEntityTooLarge,
        {"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."}},
    Row{ErrorCode::kEntityTooSmall,
        {"EntityTooSmall", 400,
         "Your proposed upload is smaller than the minimum allowed object size."}},
    Row{ErrorCode::kExpiredPresignedRequest, {"AccessDenied", 403, "Request has expired"}},
    Row{ErrorCode::kIncompleteBody,
        {"IncompleteBody", 400,
         "You did not provide the number of bytes specified by the Content-Length HTTP header."}},
    Row{ErrorCode::kInternalError,
        {"InternalError", 500, "We encountered an internal error. Please try again."}},
    Row{ErrorCode::kInvalidAccessKeyId,
        {"InvalidAccessKeyId", 403,
         "The AWS access key Id you provided does not exist in our records."}},
    Row{ErrorCode::kInvalidArgument, {"InvalidArgument", 400, "Invalid Argument"}},
    Row{ErrorCode::kInvalidBucketAclWithObjectOwnership,
        {"InvalidBucketAclWithObjectOwnership", 400,
         "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting."}},
    Row{ErrorCode::kInvalidBucketName,
        {"InvalidBucketName", 400, "The specified bucket is not valid."}},
    Row{ErrorCode::kInvalidDigest,
        {"InvalidDigest", 400, "The Content-MD5 you specified is not valid."}},
    Row{ErrorCode::kInvalidPart,
        {"InvalidPart", 400,
         "One or more of the specified parts could not be found. The part might not have been "
         "uploaded, or the specified entity tag might not have matched the part's entity tag."}},
    Row{ErrorCode::kInvalidPartNumber,
        {"InvalidPartNumber", 416, "The requested partnumber is not satisfiable"}},
    Row{ErrorCode::kInvalidPartOrder,
        {"InvalidPartOrder", 400,
         "The list of parts was not in ascending order. Parts must be ordered by part number."}},
    Row{ErrorCode::kInvalidRange, {"InvalidRange", 416, "The requested range is not satisfiable"}},
    Row{ErrorCode::kInvalidRequest, {"InvalidRequest", 400, "Invalid Request"}},
    Row{ErrorCode::kInvalidTag, {"InvalidTag", 400, "The tag provided was not a valid tag."}},
    Row{ErrorCode::kInvalidURI, {"InvalidURI", 400, "Couldn't parse the specified URI."}},
    Row{ErrorCode::kKeyTooLongError, {"KeyTooLongError", 400, "Your key is too long"}},
    Row{ErrorCode::kMalformedACLError,
        {"MalformedACLError", 400,
         "The XML you provided was not well-formed or did not validate against our published "
         "schema."}},
    Row{ErrorCode::kMalformedXML,
        {"MalformedXML", 400,
         "The XML you provided was not well-formed or did not validate against our published "
         "schema."}},
    Row{ErrorCode::kMalformedPolicy, {"MalformedPolicy", 400, "Policies must be valid JSON."}},
    Row{ErrorCode::kMetadataTooLarge,
        {"MetadataTooLarge", 400,
         "Your metadata headers exceed the maximum allowed metadata size."}},
    Row{ErrorCode::kMethodNotAllowed,
        {"MethodNotAllowed", 405, "The specified method is not allowed against this resource."}},
    Row{ErrorCode::kMissingContentLength,
        {"MissingContentLength", 411, "You must provide the Content-Length HTTP header."}},
    Row{ErrorCode::kMissingSecurityHeader,
        {"MissingSecurityHeader", 400, "Your request is missing a required header."}},
    Row{ErrorCode::kNoSuchBucket, {"NoSuchBucket", 404, "The specified bucket does not exist"}},
    Row{ErrorCode::kNoSuchBucketPolicy,
        {"NoSuchBucketPolicy", 404, "The bucket policy does not exist"}},
    Row{ErrorCode::kNoSuchCORSConfiguration,
        {"NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"}},
    Row{ErrorCode::kNoSuchKey, {"NoSuchKey", 404, "The specified key does not exist."}},
    Row{ErrorCode::kNoSuchLifecycleConfiguration,
        {"NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist"}},
    Row{ErrorCode::kNoSuchPublicAccessBlockConfiguration,
        {"NoSuchPublicAccessBlockConfiguration", 404,
         "The public access block configuration was not found"}},
    Row{ErrorCode::kNoSuchUpload,
        {"NoSuchUpload", 404,
         "The specified multipart upload does not exist. The upload ID might be invalid, or the "
         "multipart upload might have been aborted or completed."}},
    Row{ErrorCode::kNoSuchVersion,
        {"NoSuchVersion", 404,
         "The version ID specified in the request does not match an existing version."}},
    Row{ErrorCode::kNotImplemented,
        {"NotImplemented", 501,
         "A header or query you provided implies functionality that is not implemented."}},
    Row{ErrorCode::kNotModified, {"NotModified", 304, "Not Modified"}},
    Row{ErrorCode::kOwnershipControlsNotFoundError,
        {"OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found"}},
    Row{ErrorCode::kPreconditionFailed,
        {"PreconditionFailed", 412,
         "At least one of the preconditions you specified did not hold."}},
    Row{ErrorCode::kRequestHeaderSectionTooLarge,
        {"RequestHeaderSectionTooLarge", 400,
         "Your request header section exceeds the maximum allowed size."}},
    Row{ErrorCode::kRequestTimeTooSkewed,
        {"RequestTimeTooSkewed", 403,
         "The difference between the request time and the server's time is too large."}},
    Row{ErrorCode::kRequestTimeout,
        {"RequestTimeout", 400,
         "Your socket connection to the server was not read from or written to within the "
         "timeout period."}},
    Row{ErrorCode::kServiceUnavailable,
        {"ServiceUnavailable", 503, "Please reduce your request rate."}},
    Row{ErrorCode::kSignatureDoesNotMatch,
        {"SignatureDoesNotMatch", 403,
         "The request signature we calculated does not match the signature you provided. Check "
         "your key and signing method."}},
    Row{ErrorCode::kStorageFull,
        {"StorageFull", 507,
         "The server's disk is full: uploads are refused until space is freed (deleting "
         "objects still works)."}},
    Row{ErrorCode::kUnresolvableGrantByEmailAddress,
        {"UnresolvableGrantByEmailAddress", 400,
         "The e-mail address you provided does not match any account on record: grant by "
         "id=\"<user name>\" instead."}},
    Row{ErrorCode::kXAmzContentSHA256Mismatch,
        {"XAmzContentSHA256Mismatch", 400,
         "The provided 'x-amz-content-sha256' header does not match what was computed."}},
    Row{ErrorCode::kXAmzContentChecksumMismatch,
        {"BadDigest", 400, "The checksum you specified did not match the calculated checksum."}},
    Row{ErrorCode::kNotFound, {"NotFound", 404, "Not Found"}},
};
static_assert(kTable.size() == static_cast<size_t>(ErrorCode::kCount),
              "every ErrorCode needs a row in kTable");

constexpr bool TableIsInOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].code) != i) return false;
  }
  return true;
}
static_assert(TableIsInOrder(), "kTable rows must follow the enum order");

}  // namespace

const ErrorInfo& Describe(ErrorCode code) {
  auto index = static_cast<size_t>(code);
  if (index >= kTable.size()) index = static_cast<size_t>(ErrorCode::kInternalError);
  return kTable[index].info;
}

std::string Status::ToString() const {
  const ErrorInfo& info = Describe(code_);
  std::string out(info.s3_code.empty() ? "OK" : info.s3_code);
  out += ": ";
  out += message_.empty() ? std::string(info.message) : message_;
  return out;
}

}  // namespace logbucket
