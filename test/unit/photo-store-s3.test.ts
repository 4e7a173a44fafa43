import { createHash } from "node:crypto";
import { amzDate, encodePath, signV4 } from "../../adapters/photo-store/s3";

/** AWS's example credentials of the S3 Signature Version 4 documentation. */
const EXAMPLE = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  region: "us-east-1",
  service: "s3",
};
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

describe("AWS Signature Version 4 (S3 photo store)", () => {
  it("signs AWS's published GET Object example (the first 10 bytes of test.txt) as AWS does", () => {
    const signed = signV4(
      {
        method: "GET",
        path: "/test.txt",
        headers: {
          Host: "examplebucket.s3.amazonaws.com",
          Range: "bytes=0-9",
          "x-amz-content-sha256": EMPTY_SHA256,
          "x-amz-date": "20130524T000000Z",
        },
      },
      EXAMPLE,
    );
    expect(signed.canonicalRequest).toBe(
      [
        "GET",
        "/test.txt",
        "",
        "host:examplebucket.s3.amazonaws.com",
        "range:bytes=0-9",
        `x-amz-content-sha256:${EMPTY_SHA256}`,
        "x-amz-date:20130524T000000Z",
        "",
        "host;range;x-amz-content-sha256;x-amz-date",
        EMPTY_SHA256,
      ].join("\n"),
    );
    expect(signed.stringToSign).toBe(
      [
        "AWS4-HMAC-SHA256",
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
      ].join("\n"),
    );
    expect(signed.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request," +
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," +
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });

  it("signs AWS's published PUT Object example (test$file.text, a body, a storage class)", () => {
    const body = "Welcome to Amazon S3.";
    const payloadHash = createHash("sha256").update(body).digest("hex");
    expect(payloadHash).toBe("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    const signed = signV4(
      {
        method: "PUT",
        path: encodePath(["test$file.text"]),
        headers: {
          Host: "examplebucket.s3.amazonaws.com",
          Date: "Fri, 24 May 2013 00:00:00 GMT",
          "x-amz-date": "20130524T000000Z",
          "x-amz-storage-class": "REDUCED_REDUNDANCY",
          "x-amz-content-sha256": payloadHash,
        },
      },
      EXAMPLE,
    );
    expect(signed.canonicalRequest.split("\n").slice(0, 2)).toEqual(["PUT", "/test%24file.text"]);
    expect(signed.signature).toBe(
      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    );
  });

  it("encodes a path's segments as SigV4 wants them, and writes x-amz-date's form", () => {
    expect(encodePath(["photos", "a b+c/d(1)*!'~._-"])).toBe(
      "/photos/a%20b%2Bc%2Fd%281%29%2A%21%27~._-",
    );
    expect(amzDate(new Date("2026-12-01T10:20:30.456Z"))).toBe("20261201T102030Z");
  });

  it("sorts and encodes the query string", () => {
    const signed = signV4(
      {
        method: "GET",
        path: "/bucket",
        query: { "list-type": "2", prefix: "photos/a b" },
        headers: {
          host: "s3.example.com",
          "x-amz-date": "20130524T000000Z",
          "x-amz-content-sha256": EMPTY_SHA256,
        },
      },
      EXAMPLE,
    );
    expect(signed.canonicalRequest.split("\n")[2]).toBe("list-type=2&prefix=photos%2Fa%20b");
  });
});
