import type { HandoverEvidence } from "../../contracts";
import { PaymentRejected } from "../../adapters/payments/port";
import { handoverEvidenceText } from "../../domain/disputes";
import type { PaymentDoc } from "../../models/payment.model";
import { record } from "./commands";
import type { PaymentThis } from "./models";

/** What answering a card dispute came to (said in the webhook's answer). */
export type EvidenceOutcome = "given" | "given before" | "no proof" | "refused";

const EXTENSIONS: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
};

/**
 * A card dispute opened on a captured payment is answered with the booking's handover proof
 * (from the booking service: this service never reads the booking's data): the text of both
 * handovers, and the drop-off photo as a file. Given once: the payment records when, and a
 * replayed webhook finds it recorded; two at once send the same idempotency key, so the
 * provider sees one. A provider outage throws, so Stripe retries the webhook; a refusal (the
 * dispute no longer takes evidence) is said and not retried.
 */
export async function answerCardDispute(
  service: PaymentThis,
  payment: PaymentDoc,
): Promise<EvidenceOutcome | null> {
  const dispute = payment.stripe_dispute;
  if (!dispute || dispute.closed_at) return null;
  if (dispute.evidence_submitted_at) return "given before";
  const proof = await service.broker.call<HandoverEvidence | null, { booking_id: string }>(
    "booking.handoverEvidence",
    { booking_id: payment.booking_id },
  );
  const text = proof && handoverEvidenceText(proof);
  if (!proof || !text) return "no proof";
  const photo = proof.dropoff_photo;
  const key = `${payment._id}:evidence:${dispute.id}`;
  let fileId: string | null;
  try {
    ({ fileId } = await service.provider.disputeEvidence(
      {
        disputeId: dispute.id,
        text,
        serviceDate: proof.dropoff_proof?.at.slice(0, 10) ?? null,
        photo: photo && {
          contentType: photo.content_type,
          data: Buffer.from(photo.data, "base64"),
          name: `${proof.booking_number}-dropoff.${EXTENSIONS[photo.content_type] ?? "img"}`,
        },
      },
      key,
    ));
  } catch (error) {
    if (!(error instanceof PaymentRejected)) throw error;
    service.logger.warn(`evidence for dispute ${dispute.id} refused: ${error.reason}`);
    return "refused";
  }
  const recorded = await record(service, payment, {
    type: "dispute_evidence",
    dispute_id: dispute.id,
    evidence: { text, photo_id: proof.dropoff_proof?.photo_id ?? null, file_id: fileId },
  });
  return recorded.ok ? "given" : "given before";
}
