import { PAYMENT_ACTIONS, type PaymentEscalation } from "../../contracts";
import { actionsOf } from "../../lib/action";
import { afterCursor, PAGE_SORT, toPage } from "../../lib/pagination";
import type { PaymentDoc } from "../../models/payment.model";
import type { PaymentThis } from "./models";

const action = actionsOf<PaymentThis>();

/**
 * What needs a person among scheduled bookings' payments: an off-session hold that failed, while
 * its owner may still pay (past `pay_by` the booking is cancelled and nothing is held), and a
 * hold that could not be renewed, until it is captured or released.
 */
const escalated = (now: Date): Record<string, unknown> => ({
  $or: [
    { status: "failed", pay_by: { $gt: now } },
    { status: "held", renewal_failed_at: { $ne: null } },
  ],
});

const toEscalation = (doc: PaymentDoc): PaymentEscalation => {
  const renewal = doc.status === "held";
  return {
    kind: renewal ? "renewal_failed" : "hold_failed",
    booking_id: doc.booking_id,
    booking_number: doc.booking_number ?? null,
    owner_id: doc.owner_id,
    payment_id: doc._id,
    amount_cents: doc.amount_cents,
    currency: doc.currency,
    failure_reason: renewal ? null : doc.failure_reason,
    since: ((renewal ? doc.renewal_failed_at : null) ?? doc.updated_at).toISOString(),
    pay_by: renewal ? null : (doc.pay_by?.toISOString() ?? null),
    hold_expires_at: renewal ? (doc.hold_expires_at?.toISOString() ?? null) : null,
  };
};

/** The operations page's list of payment escalations, newest booking first. */
export const escalations = action(PAYMENT_ACTIONS.escalations, async function (ctx) {
  const { limit, cursor } = ctx.params;
  const rows = await this.models.payments
    .find({ $and: [escalated(new Date()), afterCursor(cursor)] }, { outbox: 0 })
    .sort(PAGE_SORT)
    .limit(limit + 1)
    .lean<PaymentDoc[]>();
  const page = toPage(rows, limit);
  return { items: page.items.map(toEscalation), next_cursor: page.next_cursor };
});
