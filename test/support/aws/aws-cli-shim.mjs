// The part of the AWS CLI the build scripts use, `aws s3 cp SRC DST` (one side s3://bucket/key,
// the other a local file), for builds the CodeBuild emulator runs on this machine. It talks to
// the S3 emulator named by AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL), as the real CLI does when
// those are set, and reports failures in the CLI's words with exit status 1.
import { request } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { Buffer } from "node:buffer";
import { URL } from "node:url";

const fail = (message, status = 1) => {
  process.stderr.write(`${message}\n`);
  process.exit(status);
};

const args = process.argv.slice(2).filter((a) => a !== "--only-show-errors" && a !== "--quiet" && a !== "--no-progress");
if (args[0] !== "s3" || args[1] !== "cp" || args.length !== 4) {
  fail(`aws (emulator shim): only "aws s3 cp SRC DST" is supported, got: ${process.argv.slice(2).join(" ")}`, 252);
}
const [, , src, dst] = args;
const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
if (!endpoint) fail("aws (emulator shim): AWS_ENDPOINT_URL_S3 is not set", 255);
const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1";
const accessKey = process.env.AWS_ACCESS_KEY_ID || "test";

function s3Path(url) {
  const rest = url.slice("s3://".length);
  return `/${rest.split("/").map(encodeURIComponent).join("/")}`;
}

function send(method, url, body) {
  const target = new URL(s3Path(url), endpoint);
  const date = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method,
        headers: {
          authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${date}/${region}/s3/aws4_request, SignedHeaders=host, Signature=0`,
          ...(body ? { "content-length": String(body.length), "content-type": "application/zip" } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function errorOf(response) {
  const text = response.body.toString("utf8");
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? String(response.status);
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? "";
  return { code, message };
}

if (dst.startsWith("s3://") && !src.startsWith("s3://")) {
  let body;
  try {
    body = readFileSync(src);
  } catch (error) {
    fail(`The user-provided path ${src} does not exist. (${error.code})`, 255);
  }
  const response = await send("PUT", dst, body);
  if (response.status !== 200) {
    const { code, message } = errorOf(response);
    fail(`upload failed: ${src} to ${dst} An error occurred (${code}) when calling the PutObject operation: ${message}`);
  }
} else if (src.startsWith("s3://") && !dst.startsWith("s3://")) {
  const response = await send("GET", src);
  if (response.status !== 200) {
    const { code, message } = errorOf(response);
    fail(`fatal error: An error occurred (${code === "NoSuchKey" ? "404" : code}) when calling the HeadObject operation: ${message || "Not Found"}`);
  }
  if (dst === "-") process.stdout.write(response.body);
  else writeFileSync(dst, response.body);
} else {
  fail("aws (emulator shim): copy between two S3 locations or two local paths is not supported", 252);
}
