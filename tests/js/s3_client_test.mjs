// Drives logbucket with the current AWS SDK for JavaScript v3, whose defaults send PutObject and
// UploadPart bodies as aws-chunked with a CRC32 trailer. Prints one JSON line of results;
// exits non-zero on the first failure. Usage: node s3_client_test.mjs ENDPOINT BUCKET
import {
  S3Client, PutObjectCommand, GetObjectCommand, DeleteObjectsCommand, ListObjectsV2Command,
  CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, HeadObjectCommand,
} from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";

const [endpoint, bucket] = process.argv.slice(2);
const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
const md5 = (b) => createHash("md5").update(b).digest("hex");
const results = {};

const small = Buffer.from("hello from the JavaScript SDK\n".repeat(1000));
const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "js/small.txt", Body: small, ContentType: "text/plain" }));
results.put_etag_ok = put.ETag === `"${md5(small)}"`;
results.put_checksum = put.ChecksumCRC32 ?? null;
const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "js/small.txt", ChecksumMode: "ENABLED" }));
const gotBody = Buffer.from(await got.Body.transformToByteArray());
results.get_ok = gotBody.equals(small) && got.ContentType === "text/plain";
results.get_checksum = got.ChecksumCRC32 ?? null;

const part1 = randomBytes(5 * 1024 * 1024);
const part2 = randomBytes(1234);
const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "js/multi.bin" }));
const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: "js/multi.bin", UploadId, PartNumber: 1, Body: part1 }));
const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: "js/multi.bin", UploadId, PartNumber: 2, Body: part2 }));
await s3.send(new CompleteMultipartUploadCommand({
  Bucket: bucket, Key: "js/multi.bin", UploadId,
  MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag, ChecksumCRC32: p1.ChecksumCRC32 }, { PartNumber: 2, ETag: p2.ETag, ChecksumCRC32: p2.ChecksumCRC32 }] },
}));
const multi = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "js/multi.bin" }));
results.multipart_ok = Buffer.from(await multi.Body.transformToByteArray()).equals(Buffer.concat([part1, part2]));
const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "js/multi.bin" }));
results.multipart_etag_ok = head.ETag.endsWith('-2"');

const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "js/" }));
results.listed = listed.Contents.map((o) => o.Key);
const del = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: "js/small.txt" }, { Key: "js/multi.bin" }] } }));
results.deleted = (del.Deleted ?? []).map((d) => d.Key).sort();
console.log(JSON.stringify(results));
