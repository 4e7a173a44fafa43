import { RUNNER_ACTIONS } from "../../contracts";
import type { PhotoMeta } from "../../adapters/photo-store";
import { actionsOf, callerOf, notFound, orThrow } from "../../lib/action";
import { keepPhoto, photoBytes, photoEntity, photoStoreOf } from "../../lib/photos";
import { fieldError } from "../../lib/zod-validator";
import type { VerificationStatus } from "../../domain/runner";
import type { RunnerDoc } from "../../models/runner.model";
import { commandRunner, ensureRunner } from "./commands";
import { runnerEntity, verificationRequestEntity } from "./entities";
import type { RunnerThis } from "./models";
import { dispatchNear } from "./offer-round";

/*
 * A runner's verification: it uploads photos of its documents (licence, vehicle, crate), asks to
 * be verified with them, and an admin verifies or rejects it (`runner.verification_decided`).
 * The rules are domain/runner.ts's; what a verified runner may carry, domain/eligibility.ts.
 */

const action = actionsOf<RunnerThis>();

/** A photo the runner uploaded as one of its documents. */
const isDocumentOf = (meta: PhotoMeta, runnerId: string) =>
  meta.subject.kind === "runner" && meta.subject.id === runnerId;

/** A photo of one of the caller's documents, kept for its verification. */
export const uploadDocument = action(RUNNER_ACTIONS.uploadDocument, async function (ctx) {
  const runner = callerOf(ctx);
  const meta = await keepPhoto(photoStoreOf(this), ctx.params.image, runner, {
    kind: "runner",
    id: runner.sub,
  });
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/runners/${runner.sub}/documents/${meta._id}`;
  return photoEntity(meta);
});

/** One of a runner's documents, to that runner (`me` names the caller) or an admin. */
export const document = action(RUNNER_ACTIONS.document, async function (ctx) {
  const caller = callerOf(ctx);
  const { photoId } = ctx.params;
  const id = ctx.params.id === "me" && caller.role === "runner" ? caller.sub : ctx.params.id;
  if (caller.role !== "admin" && caller.sub !== id) throw notFound("Document");
  const found = await photoStoreOf(this).get(photoId);
  if (!found || !isDocumentOf(found.meta, id)) throw notFound("Document");
  return photoBytes(found);
});

/**
 * The caller asks to be verified with documents it uploaded (422 for any other photo id):
 * pending until an admin decides.
 */
export const requestVerification = action(RUNNER_ACTIONS.requestVerification, async function (ctx) {
  const runner = callerOf(ctx);
  const { documents } = ctx.params;
  const known = await ensureRunner(this, runner.sub);
  const store = photoStoreOf(this);
  const metas = await Promise.all(documents.map((photoId) => store.meta(photoId)));
  metas.forEach((meta, i) => {
    if (!meta || !isDocumentOf(meta, runner.sub))
      throw fieldError(`documents.${i}`, "is not one of your uploaded documents");
  });
  const command = { type: "request_verification" as const, documents, at: new Date() };
  const doc = orThrow(await commandRunner(this, runner.sub, command, known));
  // Taken: an admin decides later.
  ctx.meta.$outcome = "queued";
  return runnerEntity(this, doc);
});

/**
 * Admins: runners who asked for verification, pending first (oldest request first), then the
 * decided ones (latest decision first); `status` keeps one kind.
 */
export const verificationQueue = action(RUNNER_ACTIONS.verificationQueue, async function (ctx) {
  const { status, limit } = ctx.params;
  const { runners } = this.models;
  const pending = (n: number) =>
    runners
      .find({ "verification.status": "pending" }, { outbox: 0 })
      .sort({ "verification.requested_at": 1, _id: 1 })
      .limit(n)
      .lean<RunnerDoc[]>();
  const decided = (statuses: readonly VerificationStatus[], n: number) =>
    runners
      .find({ "verification.status": { $in: statuses } }, { outbox: 0 })
      .sort({ "verification.decided_at": -1, _id: 1 })
      .limit(n)
      .lean<RunnerDoc[]>();
  let docs: RunnerDoc[];
  if (status === "pending") docs = await pending(limit);
  else if (status) docs = await decided([status], limit);
  else {
    docs = await pending(limit);
    if (docs.length < limit)
      docs = [...docs, ...(await decided(["verified", "rejected"], limit - docs.length))];
  }
  return { items: docs.map(verificationRequestEntity) };
});

/**
 * An admin verifies or rejects a pending request (409 for any other): the runner hears it
 * (`runner.verification_decided`). A runner verified while online is tried for the bookings
 * waiting near it at once, not at the next sweep.
 */
export const decideVerification = action(RUNNER_ACTIONS.decideVerification, async function (ctx) {
  const admin = callerOf(ctx);
  const { id, decision, note } = ctx.params;
  const command = {
    type: "decide_verification" as const,
    decision,
    note: note ?? null,
    by: admin.sub,
    at: new Date(),
  };
  const doc = orThrow(await commandRunner(this, id, command));
  if (decision === "verified" && doc.availability === "online") {
    const live = await this.geo.get(id);
    if (live) {
      void dispatchNear(this.$background, live).catch((error: unknown) =>
        this.logger.warn("dispatch after verification failed", error),
      );
    }
  }
  return verificationRequestEntity(doc);
});
