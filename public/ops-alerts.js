import { api, money, notify } from "/pages/page.js";

/**
 * What needs a person on the operations page: pets stopped too long aboard (welfare alerts),
 * handovers locked by wrong PINs (with the unlock), disputes (the owner's report and photos, and
 * the resolution), scheduled bookings' failed holds and renewals (with their deadlines), and
 * runners waiting for verification (their documents, and the decision).
 * Read every few seconds; each list is the server's, as it is.
 */
const cell = (content) => {
  const td = document.createElement("td");
  if (typeof content === "string") td.textContent = content;
  else td.append(content);
  return td;
};
const button = (label, onClick) => {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
};
const since = (iso) => `${Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000))} min`;

function fill(id, countId, items, toRow) {
  document.getElementById(countId).textContent = String(items.length);
  document.getElementById(id).replaceChildren(...items.map(toRow));
}

async function loadWelfare(token) {
  const { status, body } = await api(token, "/api/ops/welfare-alerts");
  if (status !== 200) return;
  fill("welfare", "welfare-count", body.open ?? [], (alert) => {
    const tr = document.createElement("tr");
    tr.dataset.booking = alert.booking_id;
    tr.append(
      cell(alert.booking_number),
      cell(alert.runner_id),
      cell(alert.reason === "silent" ? "no fixes" : "not moving"),
      cell(since(alert.since)),
    );
    return tr;
  });
}

async function loadLocks(token) {
  const { status, body } = await api(token, "/api/ops/handover-locks");
  if (status !== 200) return;
  fill("locks", "lock-count", body.items ?? [], (booking) => {
    const tr = document.createElement("tr");
    tr.dataset.booking = booking.booking_id;
    tr.append(
      cell(booking.booking_number),
      cell(booking.runner_id ?? "–"),
      cell(String(booking.pin_tries)),
      cell(
        button("Unlock", async () => {
          const path = `/api/bookings/${encodeURIComponent(booking.booking_id)}/handover/unlock`;
          const done = await api(token, path, { method: "POST", body: "{}" });
          notify(done.status === 200 ? "" : (done.body.message ?? "Could not unlock"));
          await loadLocks(token);
        }),
      ),
    );
    return tr;
  });
}

/** A photo of a booking (a dispute's), fetched with the token and opened from memory. */
async function openBookingPhoto(token, bookingId, photoId) {
  const path = `/api/bookings/${encodeURIComponent(bookingId)}/photos/${encodeURIComponent(photoId)}`;
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (response.ok) window.open(URL.createObjectURL(await response.blob()), "_blank", "noopener");
}

async function resolveDispute(token, bookingId, resolution) {
  const path = `/api/bookings/${encodeURIComponent(bookingId)}/resolve`;
  const done = await api(token, path, { method: "POST", body: JSON.stringify(resolution) });
  notify(done.status === 200 ? "" : (done.body.message ?? "Could not resolve the dispute"));
  await loadDisputes(token);
}

/** The resolve buttons: release, refund all, or refund the amount typed (in major units). */
function resolutions(token, booking) {
  const id = booking.booking_id;
  const amount = document.createElement("input");
  amount.type = "number";
  amount.min = "0.01";
  amount.step = "0.01";
  amount.placeholder = `refund (${booking.currency})`;
  amount.setAttribute("aria-label", "amount to refund");
  const all = document.createElement("span");
  all.append(
    button("Release", () => void resolveDispute(token, id, { outcome: "release" })),
    button("Refund all", () => void resolveDispute(token, id, { outcome: "full_refund" })),
    amount,
    button("Refund amount", () => {
      const refund_cents = Math.round(Number(amount.value) * 100);
      void resolveDispute(token, id, { outcome: "partial_refund", refund_cents });
    }),
  );
  return all;
}

async function loadDisputes(token) {
  const { status, body } = await api(token, "/api/ops/disputes");
  if (status !== 200) return;
  fill("disputes", "dispute-count", body.items ?? [], (booking) => {
    const tr = document.createElement("tr");
    tr.dataset.booking = booking.booking_id;
    const dispute = booking.dispute ?? {};
    const photos = document.createElement("span");
    for (const [i, id] of (dispute.photo_ids ?? []).entries()) {
      photos.append(
        button(`#${i + 1}`, () => void openBookingPhoto(token, booking.booking_id, id)),
      );
    }
    tr.append(
      cell(booking.booking_number),
      cell(dispute.reason ?? "–"),
      cell(dispute.text ?? ""),
      cell(photos),
      cell(money(booking.estimated_price_cents, booking.currency)),
      cell(resolutions(token, booking)),
    );
    return tr;
  });
}

/** A time as operators read it: `2025-06-01 14:30` UTC, or a dash. */
const at = (iso) => (iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "–");

/** Scheduled bookings whose off-session hold or hold renewal failed: the deadline that counts. */
async function loadEscalations(token) {
  const { status, body } = await api(token, "/api/ops/payment-escalations");
  if (status !== 200) return;
  fill("escalations", "escalation-count", body.items ?? [], (item) => {
    const tr = document.createElement("tr");
    tr.dataset.booking = item.booking_id;
    const renewal = item.kind === "renewal_failed";
    tr.append(
      cell(item.booking_number ?? item.booking_id),
      cell(item.owner_id),
      cell(renewal ? "hold not renewed" : `hold failed (${item.failure_reason ?? "declined"})`),
      cell(renewal ? `hold lapses ${at(item.hold_expires_at)}` : `pay by ${at(item.pay_by)}`),
      cell(money(item.amount_cents, item.currency)),
    );
    return tr;
  });
}

/** A runner's document, fetched with the token and opened from memory. */
async function openDocument(token, runnerId, photoId) {
  const path = `/api/runners/${encodeURIComponent(runnerId)}/documents/${encodeURIComponent(photoId)}`;
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (response.ok) window.open(URL.createObjectURL(await response.blob()), "_blank", "noopener");
}

async function decide(token, runnerId, decision) {
  const path = `/api/runners/${encodeURIComponent(runnerId)}/verification`;
  const done = await api(token, path, { method: "POST", body: JSON.stringify({ decision }) });
  notify(done.status === 200 ? "" : (done.body.message ?? "Could not record the decision"));
  await loadVerifications(token);
}

async function loadVerifications(token) {
  const { status, body } = await api(token, "/api/runners/verifications?status=pending");
  if (status !== 200) return;
  fill("verifications", "verify-count", body.items ?? [], (runner) => {
    const tr = document.createElement("tr");
    tr.dataset.runner = runner.runner_id;
    const docs = document.createElement("span");
    for (const [i, id] of (runner.verification?.documents ?? []).entries()) {
      docs.append(button(`#${i + 1}`, () => void openDocument(token, runner.runner_id, id)));
    }
    const crate = runner.crate_capacity;
    tr.append(
      cell(runner.name ?? runner.runner_id),
      cell(runner.vehicle_kind ?? "–"),
      cell(
        [(runner.species ?? []).join(", "), crate ? `${crate.pets} × ${crate.largest}` : ""]
          .filter(Boolean)
          .join("; ") || "–",
      ),
      cell(docs),
      cell(
        (() => {
          const both = document.createElement("span");
          both.append(
            button("Verify", () => void decide(token, runner.runner_id, "verified")),
            button("Reject", () => void decide(token, runner.runner_id, "rejected")),
          );
          return both;
        })(),
      ),
    );
    return tr;
  });
}

/** Loads the lists now and every `everyMs`. */
export function watchAlerts(token, everyMs = 5000) {
  const load = () =>
    Promise.all([
      loadWelfare(token),
      loadLocks(token),
      loadDisputes(token),
      loadEscalations(token),
      loadVerifications(token),
    ]).catch(() => {});
  void load();
  setInterval(load, everyMs);
}
