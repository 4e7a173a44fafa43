import { api, money } from "/pages/page.js";

/**
 * The owner's choice once the pet is delivered, before the auto-confirm: confirm, or report a
 * problem (a reason the API takes, what happened, photos). Then, for a disputed booking, where
 * the dispute stands: under review, or resolved and how. Photos go up one by one as their bytes
 * (`?stage=dispute`), as the API takes them; the report names the ids they got.
 */

/** How each of the default reasons (DISPUTE_REASONS) reads; any other reads as its words. */
const REASONS = {
  injured: "My pet was hurt",
  wrong_pet: "Wrong pet",
  late: "Very late",
  not_delivered: "Not delivered",
  other: "Something else",
};
const reasonLabel = (reason) => REASONS[reason] ?? reason.replace(/_/g, " ");

/** Who the token says the caller is (its payload is readable; the server checks its signature). */
function callerOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const { sub, role } = JSON.parse(globalThis.atob(payload));
    return { sub, role };
  } catch {
    return { sub: null, role: null };
  }
}

/** What a resolution came to, in words. */
function resolutionText(dispute, booking) {
  const cash = (cents) => money(cents, booking.currency);
  switch (dispute.outcome) {
    case "release":
      return "Resolved: the payment was released to the runner.";
    case "partial_refund":
      return `Resolved: ${cash(dispute.refund_cents)} refunded to you.`;
    case "full_refund":
      return `Resolved: fully refunded (${cash(dispute.refund_cents)}).`;
    default:
      return "Disputed — operations will review";
  }
}

export function tripProblem({ token, bookingId, config, reload }) {
  const $ = (id) => document.getElementById(id);
  const path = (rest = "") => `/api/bookings/${encodeURIComponent(bookingId)}${rest}`;
  const caller = callerOf(token);
  const reasons = config.dispute_reasons ?? Object.keys(REASONS);
  const maxPhotos = config.dispute_photos_max ?? 5;
  $("problem-reason").replaceChildren(
    ...reasons.map((reason) => {
      const option = document.createElement("option");
      option.value = reason;
      option.textContent = reasonLabel(reason);
      return option;
    }),
  );
  $("problem-photos-max").textContent = String(maxPhotos);
  const say = (text) => ($("problem-note").textContent = text);
  const busy = (on) => {
    for (const button of $("delivery").querySelectorAll("button")) button.disabled = on;
  };

  $("confirm").addEventListener("click", async () => {
    busy(true);
    const done = await api(token, path("/confirm"), { method: "POST", body: "{}" });
    busy(false);
    if (done.status !== 200) say(`Not confirmed: ${done.body.message ?? "try again later"}`);
    await reload();
  });

  /** Each photo sent as it is; their ids, or null once one is refused (said why). */
  async function upload(files) {
    const ids = [];
    for (const file of files) {
      const response = await fetch(path("/photos?stage=dispute"), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": file.type },
        body: file,
      });
      const body = await response.json().catch(() => ({}));
      if (response.status !== 201) {
        say(`${file.name} was not taken: ${body.message ?? "try another photo"}`);
        return null;
      }
      ids.push(body.photo_id);
    }
    return ids;
  }

  $("problem-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = [...$("problem-photos").files];
    if (files.length > maxPhotos) return say(`At most ${maxPhotos} photos, please.`);
    busy(true);
    say(files.length ? "Sending the photos…" : "Sending…");
    const photoIds = await upload(files);
    if (photoIds) {
      const sent = await api(token, path("/dispute"), {
        method: "POST",
        body: JSON.stringify({
          reason: $("problem-reason").value,
          text: $("problem-text").value,
          photo_ids: photoIds,
        }),
      });
      say(sent.status === 200 ? "" : `Not sent: ${sent.body.message ?? "try again later"}`);
    }
    busy(false);
    await reload();
  });

  /** Shows what fits the booking now: the choice while it is open, the dispute once there is one. */
  return function show(booking) {
    const open =
      booking.status === "delivered" &&
      booking.auto_confirm_at !== null &&
      caller.role === "owner" &&
      caller.sub === booking.owner_id;
    $("delivery").hidden = !open;
    if (open) {
      $("auto-confirm-at").textContent = new Date(booking.auto_confirm_at).toLocaleString();
    }
    const dispute = booking.dispute;
    $("dispute").hidden = !dispute;
    if (!dispute) return;
    $("dispute").dataset.outcome = dispute.outcome ?? "open";
    $("dispute-status").textContent = resolutionText(dispute, booking);
    $("dispute-report").textContent = `${reasonLabel(dispute.reason)}: ${dispute.text}`;
    $("dispute-note").textContent = dispute.note ? `Operations: ${dispute.note}` : "";
  };
}
