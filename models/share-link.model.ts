import { Schema, type Connection, type Model } from "mongoose";

/**
 * A read-only link to one trip (`_id` = the SHA-256 of its secret, so that a page's request finds
 * it by `_id`, and a database leak shows no usable link). The secret itself is never stored.
 */
export interface ShareLinkDoc {
  _id: string;
  /** How the owner names it to revoke it: not the secret. */
  link_id: string;
  booking_id: string;
  owner_id: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

const ShareLinkSchema = new Schema<ShareLinkDoc>(
  {
    _id: { type: String, required: true },
    link_id: { type: String, required: true },
    booking_id: { type: String, required: true, index: true },
    owner_id: { type: String, required: true },
    created_at: { type: Date, required: true },
    expires_at: { type: Date, required: true },
    revoked_at: { type: Date, default: null },
  },
  { collection: "share_links", versionKey: false },
);

export function shareLinkModel(connection: Connection): Model<ShareLinkDoc> {
  return (
    (connection.models.ShareLink as Model<ShareLinkDoc> | undefined) ??
    connection.model<ShareLinkDoc>("ShareLink", ShareLinkSchema)
  );
}
