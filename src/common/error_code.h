// The one table of errors: every ErrorCode has an S3 code, an HTTP status and a default message
// (error_code.cc). Errors become HTTP responses exactly once, in the S3 adapter.
#pragma once

#include <string_view>

namespace logbucket {

enum class ErrorCode {
  kOk,
  kAccessDenied,
  kAccessControlListNotSupported,
  kAccessForbidden,  // a CORS preflight no rule allows
  kAuthorizationHeaderMalformed,
  kAuthorizationQueryParametersError,
  kBadDigest,
  kBadRequest,
  kBucketAlreadyExists,
  kBucketAlreadyOwnedByYou,
  kBucketNotEmpty,
  kEntityTooLarge,
  kEntityTooSmall,
  kExpiredPresignedRequest,
  kIncompleteBody,
  kInternalError,
  kInvalidAccessKeyId,
  kInvalidArgument,
  kInvalidBucketAclWithObjectOwnership,
  kInvalidBucketName,
  kInvalidDigest,
  kInvalidPart,
  kInvalidPartNumber,
  kInvalidPartOrder,
  kInvalidRange,
  kInvalidRequest,
  kInvalidTag,
  kInvalidURI,
  kKeyTooLongError,
  kMalformedACLError,
  kMalformedXML,
  kMalformedPolicy,
  kMetadataTooLarge,
  kMethodNotAllowed,
  kMissingContentLength,
  kMissingSecurityHeader,
  kNoSuchBucket,
  kNoSuchBucketPolicy,
  kNoSuchCORSConfiguration,
  kNoSuchKey,
  kNoSuchLifecycleConfiguration,
  kNoSuchPublicAccessBlockConfiguration,
  kNoSuchUpload,
  kNoSuchVersion,
  kNotImplemented,
  kNotModified,
  kOwnershipControlsNotFoundError,
  kPreconditionFailed,
  kRequestHeaderSectionTooLarge,
  kRequestTimeTooSkewed,
  kRequestTimeout,
  kServiceUnavailable,
  kSignatureDoesNotMatch,
  kStorageFull,  // the data directory's disk is below its free-space floor, or full
  kUnresolvableGrantByEmailAddress,
  kXAmzContentSHA256Mismatch,
  kXAmzContentChecksumMismatch,
  kNotFound,  // generic 404 for non-S3 paths (health, unknown routes)
  kCount      // not an error: the number of enumerators, for the table test
};

struct ErrorInfo {
  std::string_view s3_code;
  int http_status;
  std::string_view message;
};

const ErrorInfo& Describe(ErrorCode code);

}  // namespace logbucket
