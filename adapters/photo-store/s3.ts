import { createHash, createHmac } from "node:crypto";
import type { PhotoMeta, PhotoStore } from "./port";

export interface S3Options {
  /** The store's base URL; objects are addressed path-style: `<endpoint>/<bucket>/<key>`. */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** How long one request may take before it fails. */
  timeoutMs?: number;
}

/** What AWS Signature Version 4 signs of a request. */
export interface SignableRequest {
  method: string;
  /** The path as sent, already URI-encoded (`encodePath`). */
  path: string;
  query?: Record<string, string>;
  /** Every header to sign, `host`, `x-amz-date` and `x-amz-content-sha256` among them. */
  headers: Record<string, string>;
}

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
}

const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) =>
  createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it: everything but A–Z a–z 0–9 - _ . ~ as %XX. */
const uriEncode = (value: string) =>
  encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/** Name/value pairs in the byte order of their names, as SigV4 sorts headers and query. */
const byName = ([a]: readonly [string, string], [b]: readonly [string, string]) =>
  a < b ? -1 : a > b ? 1 : 0;

/** A path of raw segments, each encoded, the slashes kept. */
export const encodePath = (segments: string[]) => `/${segments.map(uriEncode).join("/")}`;

/** `20130524T000000Z`: the form of `x-amz-date`. */
export const amzDate = (at: Date) => at.toISOString().replace(/[-:]|\.\d{3}/g, "");

/**
 * AWS Signature Version 4 of a request (header-based): the canonical request, the string to
 * sign and the Authorization header, from the headers given (which must include `x-amz-date`).
 */
export function signV4(request: SignableRequest, credentials: SigV4Credentials) {
  const headers = Object.entries(request.headers)
    .map(([name, value]) => [name.toLowerCase(), value.trim().replace(/\s+/g, " ")] as const)
    .sort(byName);
  const date = headers.find(([name]) => name === "x-amz-date")?.[1];
  const payloadHash = headers.find(([name]) => name === "x-amz-content-sha256")?.[1];
  if (!date || !payloadHash)
    throw new Error("SigV4: x-amz-date and x-amz-content-sha256 are needed");
  const signedHeaders = headers.map(([name]) => name).join(";");
  const query = Object.entries(request.query ?? {})
    .map(([key, value]) => [uriEncode(key), uriEncode(value)] as const)
    .sort(byName)
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
  const canonicalRequest = [
    request.method,
    request.path,
    query,
    ...headers.map(([name, value]) => `${name}:${value}`),
    "",
    signedHeaders,
    payloadHash,
  ].join("\n");
  const day = date.slice(0, 8);
  const scope = `${day}/${credentials.region}/${credentials.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", date, scope, sha256Hex(canonicalRequest)].join("\n");
  const key = [day, credentials.region, credentials.service, "aws4_request"].reduce<
    Buffer | string
  >((signing, part) => hmac(signing, part), `AWS4${credentials.secretAccessKey}`);
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  return {
    canonicalRequest,
    stringToSign,
    signature,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`,
  };
}

/** The user-metadata header that carries a photo's meta (S3 keeps up to 2 KB of them). */
const META_HEADER = "x-amz-meta-kilat-photo";

const encodeMeta = (meta: PhotoMeta) => Buffer.from(JSON.stringify(meta)).toString("base64url");

function decodeMeta(header: string | null, id: string): PhotoMeta {
  if (!header) throw new Error(`photo ${id}: the stored object has no ${META_HEADER}`);
  const stored = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as Omit<
    PhotoMeta,
    "created_at"
  > & { created_at: string };
  return { ...stored, created_at: new Date(stored.created_at) };
}

/**
 * Photos in an S3-compatible object store (AWS S3, MinIO, Ceph, R2…): one object per photo,
 * `photos/<id>`, its meta in a user-metadata header, written by one PUT (a photo is whole or
 * absent). Requests are signed with Signature Version 4 here: no SDK.
 */
export class S3PhotoStore implements PhotoStore {
  private readonly base: URL;
  private readonly credentials: SigV4Credentials;

  constructor(private readonly options: S3Options) {
    this.base = new URL(options.endpoint);
    this.credentials = {
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      region: options.region,
      service: "s3",
    };
  }

  async put(meta: PhotoMeta, data: Buffer): Promise<void> {
    const response = await this.send("PUT", meta._id, data, {
      "content-type": meta.content_type,
      [META_HEADER]: encodeMeta(meta),
    });
    await this.expectOk(response, "PUT", meta._id);
  }

  async meta(id: string): Promise<PhotoMeta | null> {
    const response = await this.send("HEAD", id);
    if (response.status === NOT_FOUND) return null;
    await this.expectOk(response, "HEAD", id);
    return decodeMeta(response.headers.get(META_HEADER), id);
  }

  async get(id: string): Promise<{ meta: PhotoMeta; data: Buffer } | null> {
    const response = await this.send("GET", id);
    if (response.status === NOT_FOUND) {
      await response.body?.cancel();
      return null;
    }
    await this.expectOk(response, "GET", id);
    const data = Buffer.from(await response.arrayBuffer());
    return { meta: decodeMeta(response.headers.get(META_HEADER), id), data };
  }

  private send(
    method: string,
    id: string,
    body?: Buffer,
    extra: Record<string, string> = {},
  ): Promise<Response> {
    const basePath = this.base.pathname.replace(/\/+$/, "");
    const path = `${basePath}${encodePath([this.options.bucket, "photos", id])}`;
    const headers = {
      "x-amz-date": amzDate(new Date()),
      "x-amz-content-sha256": sha256Hex(body ?? ""),
      ...extra,
    };
    // fetch sends Host itself, from the same URL: the one signed.
    const { authorization } = signV4(
      { method, path, headers: { ...headers, host: this.base.host } },
      this.credentials,
    );
    return fetch(new URL(path, this.base.origin), {
      method,
      headers: { ...headers, authorization },
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    });
  }

  private async expectOk(response: Response, method: string, id: string): Promise<void> {
    if (response.ok) return;
    const text = (await response.text().catch(() => "")).slice(0, 300);
    throw new Error(`S3 ${method} photos/${id} answered ${response.status}: ${text}`);
  }
}

/** S3's answer for a key it does not have (the adapters layer reads other servers' statuses). */
const NOT_FOUND = 404;
