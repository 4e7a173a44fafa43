import { z } from "zod";
import { contracts } from "./action";
import { IdParams, PageParams } from "./common";
import { UnlockParams, type HandoverProofEntity } from "./booking";
import type { PhotoBytes } from "./photo";

/** An owner's link to the trip for someone without an account (a vet, a family member). */
export const ShareCreateParams = IdParams.extend({
  /** How long it lives; at most SHARE_LINK_MAX_TTL, and never past the trip's completion. */
  expires_in_minutes: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 60)
    .optional(),
}).strict();

export const ShareRevokeParams = IdParams.extend({
  linkId: z.string().min(1).max(64),
}).strict();

/** The link's secret, as the page at /share/<token> sends it. */
export const SharedParams = z
  .object({ token: z.string().regex(/^[A-Za-z0-9_-]{20,100}$/, "expected a share token") })
  .strict();

export const HandoverLocksParams = z.object({ ...PageParams }).strict();

/** The handover and the recipient: unlocking a PIN lock, and share links. */
export const HANDOVER_ACTIONS = contracts({
  unlockHandover: { roles: ["admin"], params: UnlockParams },
  handoverLocks: { roles: ["admin"], params: HandoverLocksParams },
  shareCreate: { roles: ["owner"], params: ShareCreateParams, creates: true },
  shareList: { roles: ["owner", "admin"], params: IdParams },
  shareRevoke: { roles: ["owner", "admin"], params: ShareRevokeParams },
  /** No login: the token is the key. */
  shared: { params: SharedParams },
  /** The payment service, answering a card dispute: the booking's handover proof. */
  handoverEvidence: {
    params: z.object({ booking_id: z.string().min(1).max(128) }).strict(),
    internal: true,
  },
});

/** What shows a booking's trip happened, for a card dispute's evidence (null: no such booking). */
export interface HandoverEvidence {
  booking_number: string;
  pickup_proof: HandoverProofEntity | null;
  dropoff_proof: HandoverProofEntity | null;
  /** The drop-off photo's bytes, to hand to the card network. */
  dropoff_photo: PhotoBytes | null;
}

export interface ShareLinkEntity {
  link_id: string;
  booking_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** Only in the answer that made it: the link's secret is never stored or shown again. */
  token?: string;
  url?: string;
}

/** The trip as a share link shows it: no PIN, no addresses of the owner, the runner's first name. */
export interface SharedTrip {
  booking_number: string;
  status: string;
  pets: { name: string; species: string }[];
  dropoff: { lat: number; lng: number };
  runner_first_name: string | null;
  /** Only while the pet is aboard (picked up → delivered). */
  position: { lat: number; lng: number; recorded_at: string } | null;
  eta_seconds: number | null;
  expires_at: string;
  updated_at: string;
}
