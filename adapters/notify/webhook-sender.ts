import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { isIP } from "node:net";
import { WEBHOOK_TUNING } from "../../config/tuning";
import { addressPolicy, hostOf, resolveTarget, type AddressPolicy, type Resolve } from "./address";
import { SIGNATURE_HEADER, sign } from "./signature";

/**
 * How one attempt went, as the deliveries list shows it: `delivered` (a 2xx), `http_error` (the
 * receiver answered something else; its status code is shown), or `unreachable` (no HTTP answer
 * from an address we may send to). `unreachable` deliberately folds together a name that does not
 * resolve or resolves to a refused address, a refused or reset connection, a TLS failure and a
 * timeout: told apart, with their timings, they would make webhooks a port scanner.
 */
export type DeliveryOutcome = "delivered" | "http_error" | "unreachable";

/** What a receiver's status code, or no answer at all (null), comes to. */
export const outcomeOf = (statusCode: number | null): DeliveryOutcome =>
  statusCode === null
    ? "unreachable"
    : statusCode >= 200 && statusCode < 300
      ? "delivered"
      : "http_error";

export interface DeliveryAttempt {
  at: Date;
  outcome: DeliveryOutcome;
  status_code: number | null;
}

export interface SignedDelivery {
  id: string;
  url: string;
  secret: string;
  /** The CloudEvent, in the same JSON as on Kafka. */
  body: string;
  /** May the URL resolve to a loopback or private address (WEBHOOK_ALLOW_INTERNAL)? */
  allowInternal: boolean;
}

/** What tests replace: the resolver, the address rule, the time limit. */
export interface SendOptions {
  resolve?: Resolve;
  permits?: AddressPolicy["permits"];
  timeoutMs?: number;
}

/** The attempt to store and show, and what went wrong in words, for the operator's log only. */
export interface SendResult {
  attempt: DeliveryAttempt;
  detail: string | null;
}

/**
 * One signed POST to an integrator's webhook: `kilat-signature: t=…,v1=<HMAC>` over the body, no
 * redirects followed, at most WEBHOOK_TUNING.deliveryTimeoutMs. The host is resolved once per
 * attempt, every address it has is checked, and the connection goes to the checked address
 * (Host header and TLS name stay the URL's). Never throws.
 */
export async function sendWebhook(
  delivery: SignedDelivery,
  options: SendOptions = {},
): Promise<SendResult> {
  const at = new Date();
  const failed = (detail: string): SendResult => ({
    attempt: { at, outcome: "unreachable", status_code: null },
    detail,
  });
  // One deadline for the lookup and the POST: the delivery's lease must outlast the attempt.
  const signal = AbortSignal.timeout(options.timeoutMs ?? WEBHOOK_TUNING.deliveryTimeoutMs);
  const policy = addressPolicy(delivery.allowInternal, options.resolve);
  const url = new URL(delivery.url);
  const target = await resolveTarget(
    url,
    { resolve: policy.resolve, permits: options.permits ?? policy.permits },
    signal,
  );
  if (target.kind === "refused") return failed("refused: the host has an internal address");
  if (target.kind === "unresolved") return failed("the host name did not resolve");
  try {
    const status = await post(url, target.address, delivery, {
      signal,
      timestamp: Math.floor(at.getTime() / 1000),
    });
    return { attempt: { at, outcome: outcomeOf(status), status_code: status }, detail: null };
  } catch (error) {
    return failed(error instanceof Error ? error.message.slice(0, 300) : String(error));
  }
}

/** The status code the receiver at `address` answered; its body is not read. */
function post(
  url: URL,
  address: string,
  delivery: SignedDelivery,
  { signal, timestamp }: { signal: AbortSignal; timestamp: number },
): Promise<number> {
  const name = hostOf(url);
  const options: RequestOptions = {
    host: address,
    port: url.port || (url.protocol === "https:" ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    method: "POST",
    headers: {
      host: url.host,
      "content-type": "application/cloudevents+json; charset=utf-8",
      "content-length": Buffer.byteLength(delivery.body),
      "user-agent": "kilat-webhooks",
      [SIGNATURE_HEADER]: sign(delivery.secret, delivery.body, timestamp),
      "kilat-delivery": delivery.id,
    },
    // The certificate is checked against the URL's name, not the address connected to.
    servername: isIP(name) ? undefined : name,
    // A pooled connection could lead to an address checked for an earlier attempt.
    agent: false,
    signal,
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(options, (response) => {
      resolve(response.statusCode ?? 0);
      response.destroy();
    });
    req.on("error", reject);
    req.end(delivery.body);
  });
}

export const delivered = (attempt: DeliveryAttempt) => attempt.outcome === "delivered";
