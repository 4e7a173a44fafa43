import type { ServiceBroker } from "moleculer";
import sharp from "sharp";
import { PET_TYPES } from "../../config/defaults";
import type { PhotoEntity, RunnerEntity } from "../../contracts";
import type { ProfileChanges } from "../../domain/runner";
import type { AuthUser } from "../../lib/auth";
import { cleanPhoto } from "./handover";
import type { Client } from "./system";

/** What a runner says it can carry, as PATCH /api/runners/me takes it. */
export type RunnerCapabilities = Pick<
  ProfileChanges,
  "vehicle_kind" | "crate_capacity" | "species" | "air_conditioning"
>;

/** A runner who carries anything: every species, the biggest crate, three pets, with AC. */
export const CARRIES_ANYTHING: Required<RunnerCapabilities> = {
  vehicle_kind: "van",
  crate_capacity: { largest: "xlarge", pets: 3 },
  species: [...PET_TYPES],
  air_conditioning: true,
};

let document: Promise<Buffer> | undefined;

/** A small JPEG, made once: every runner's "document". */
export function documentJpeg(): Promise<Buffer> {
  document ??= sharp({
    create: { width: 16, height: 12, channels: 3, background: { r: 40, g: 120, b: 200 } },
  })
    .jpeg()
    .toBuffer();
  return document;
}

/** Uploads a photo as the runner's document, its bytes as the body (POST /api/runners/me/documents). */
export async function uploadDocument(
  system: Client,
  token: string,
  bytes: Buffer,
  contentType = "image/jpeg",
): Promise<{ status: number; body: PhotoEntity & { type?: string; message?: string } }> {
  const response = await fetch(`${system.url}/api/runners/me/documents`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: new Uint8Array(bytes),
  });
  return {
    status: response.status,
    body: (await response.json()) as PhotoEntity & { type?: string; message?: string },
  };
}

/**
 * Makes the runner of `token` ready for offers through the public API, as a real runner gets
 * there: says what it carries (by default anything), uploads a document, asks for verification,
 * and an admin verifies it. Returns the runner as it is then. Each step's status is checked, so
 * a broken step fails here rather than later.
 */
export async function verifiedRunner(
  system: Client,
  token: string,
  capabilities: RunnerCapabilities = CARRIES_ANYTHING,
): Promise<RunnerEntity> {
  const profile = await system.api<RunnerEntity>("PATCH", "/api/runners/me", {
    token,
    body: capabilities,
  });
  expect(profile.status).toBe(200);
  const uploaded = await uploadDocument(system, token, await documentJpeg());
  expect(uploaded.status).toBe(201);
  const asked = await system.api<RunnerEntity>("POST", "/api/runners/me/verification", {
    token,
    body: { documents: [uploaded.body.photo_id] },
  });
  expect(asked.status).toBe(202);
  const { runner_id: id } = profile.body;
  const decided = await system.api("POST", `/api/runners/${encodeURIComponent(id)}/verification`, {
    token: system.token("admin", "ops"),
    body: { decision: "verified" },
  });
  expect(decided.status).toBe(200);
  return (await system.api<RunnerEntity>("GET", "/api/runners/me", { token })).body;
}

const verified = new WeakMap<Client, Map<string, Promise<RunnerEntity>>>();

/** Who a token names (its `sub`): two tokens signed a second apart for one runner differ. */
function subjectOf(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as {
    sub?: string;
  };
  return payload.sub ?? token;
}

/**
 * `verifiedRunner` once per runner and system: a test's helper that brings a runner online (or
 * to an accept) calls it each time, and only the first call verifies. A runner asks for
 * verification once; asking again once verified would be refused.
 */
export function verifiedOnce(
  system: Client,
  token: string,
  capabilities?: RunnerCapabilities,
): Promise<RunnerEntity> {
  let known = verified.get(system);
  if (!known) verified.set(system, (known = new Map<string, Promise<RunnerEntity>>()));
  const sub = subjectOf(token);
  let runner = known.get(sub);
  if (!runner) {
    runner = verifiedRunner(system, token, capabilities);
    known.set(sub, runner);
  }
  return runner;
}

/**
 * `verifiedRunner` for a test that calls the services straight on a broker (no gateway): the
 * same steps, each an action call as the gateway would make it.
 */
export async function verifiedRunnerOn(
  broker: ServiceBroker,
  runner: AuthUser,
  capabilities: RunnerCapabilities = CARRIES_ANYTHING,
): Promise<void> {
  const as = (user: AuthUser) => ({ meta: { user } });
  await broker.call("runner.updateProfile", capabilities, as(runner));
  const image = await cleanPhoto(await documentJpeg());
  const kept = await broker.call<PhotoEntity, { image: typeof image }>(
    "runner.uploadDocument",
    { image },
    as(runner),
  );
  await broker.call("runner.requestVerification", { documents: [kept.photo_id] }, as(runner));
  await broker.call(
    "runner.decideVerification",
    { id: runner.sub, decision: "verified" },
    as({ sub: "ops", role: "admin" }),
  );
}
