import { TripMap } from "/pages/map.js";
import { api, money, notify, pageConfig, showSteps, takeToken, tokenProblem } from "/pages/page.js";
import { tripProblem } from "/pages/trip-problem.js";

/**
 * The owner's live trip: the booking's steps, the route so far and the runner moving on the
 * map as `track:update` arrives, distance, ETA and price. The token comes in the link's
 * fragment, as the app passes it, and goes only into the Authorization header and the socket's
 * handshake.
 */

const bookingId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() ?? "");
const token = takeToken();
const config = await pageConfig();
const map = new TripMap(document.getElementById("map"), {
  tileUrl: config.tile_url,
  tileAttribution: config.tile_attribution,
});
const trip = { booking: null, route: [], runner: null };
/** Confirm or report a problem once delivered; the dispute and its resolution after. */
const showProblem = tripProblem({ token, bookingId, config, reload: () => load() });

/** The pet has arrived once the runner handed it over. */
const ARRIVED = ["delivered", "confirmed", "completed", "disputed", "refunded", "returned"];

/**
 * What "Arrives in" says. On the way back after a no-show the track's ETA points at the drop-off
 * nobody came to, so it is not shown.
 */
function etaText(status, eta) {
  if (status === "returning") return "Returning to the pickup";
  if (status === "returned") return "Returned";
  if (ARRIVED.includes(status) || eta === 0) return "Arrived";
  return eta === null || eta === undefined ? "–" : `~${Math.max(1, Math.round(eta / 60))} min`;
}

function showFacts(track) {
  const { booking } = trip;
  if (track) {
    document.getElementById("distance").textContent = `${track.total_distance_km.toFixed(2)} km`;
    document.getElementById("eta").textContent = etaText(booking?.status, track.eta_seconds);
  }
  if (booking) {
    const final = booking.final_price_cents;
    document.getElementById("price-label").textContent =
      final === null ? "Estimated price" : "Price";
    document.getElementById("price").textContent = money(
      final ?? booking.estimated_price_cents,
      booking.currency,
    );
  }
}

/** A handover's position as the caption says it: degrees to 5 decimals (about a metre). */
const positionText = (position) =>
  position ? `${position.lat.toFixed(5)}, ${position.lng.toFixed(5)}` : "position unknown";

/** Where the track was at each handover, a small marker on the map; gone while there is none. */
const proofMarks = new Map();
function markProof(id, proof, label) {
  const position = proof?.position;
  const mark = proofMarks.get(id);
  if (!position || !window.L) return void (mark?.remove(), proofMarks.delete(id));
  if (mark) return void mark.setLatLng([position.lat, position.lng]);
  const added = window.L.circleMarker([position.lat, position.lng], {
    radius: 5,
    className: `proof ${id}`,
    interactive: false,
  }).addTo(map.map);
  const element = added.getElement();
  element.setAttribute("aria-label", `${label} here`);
  Object.assign(element.dataset, { lat: String(position.lat), lng: String(position.lng) });
  proofMarks.set(id, added);
}

/** Photos are served only with the bearer token: fetched, then shown from a blob. */
const shownPhotos = new Map();
async function showProof(id, proof, label) {
  const figure = document.getElementById(id);
  markProof(id, proof, label);
  if (!proof) return;
  figure.hidden = false;
  const at = new Date(proof.at).toLocaleTimeString();
  figure.querySelector("figcaption").textContent =
    `${label} at ${at} (${positionText(proof.position)})${proof.pin_verified ? ", PIN checked" : ""}`;
  if (shownPhotos.get(id) === proof.photo_id) return;
  shownPhotos.set(id, proof.photo_id);
  const path = `/api/bookings/${encodeURIComponent(bookingId)}/photos/${encodeURIComponent(proof.photo_id)}`;
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) return;
  const img = figure.querySelector("img");
  img.src = URL.createObjectURL(await response.blob());
  img.dataset.photoId = proof.photo_id;
}

/** The PIN (the owner's to give), the proof photos, and a link to share the trip. */
function showHandover(booking) {
  document.getElementById("handover").hidden = false;
  const pin = document.getElementById("pin");
  pin.hidden = !booking.handover_pin || ARRIVED.includes(booking.status);
  document.getElementById("pin-value").textContent = booking.handover_pin ?? "";
  void showProof("pickup-proof", booking.pickup_proof, "Picked up");
  void showProof("dropoff-proof", booking.dropoff_proof, "Handed over");
  document.getElementById("share").hidden = !booking.handover_pin || OVER.includes(booking.status);
  if (booking.handover_locked) {
    notify("Too many wrong PINs: the handover is on hold until our operations team clears it.");
  }
}

const timeOf = (at) => new Date(at).toLocaleTimeString();

/**
 * The runner at the pickup or the drop-off, and what a no-show led to (domain/no-show.ts): the
 * trip cancelled with the fee, the pet on its way back, back at the pickup with the charge, or
 * operations deciding.
 */
function showNoShow(booking) {
  const { status, no_show: noShow, pet_name: pet } = booking;
  const lines = [];
  let title = "";
  if (!noShow && status === "accepted" && booking.arrived_at_pickup) {
    title = "Your runner is at the pickup";
    lines.push(`Since ${timeOf(booking.arrived_at_pickup)}: please hand ${pet} over.`);
  } else if (!noShow && status === "in_transit" && booking.arrived_at_dropoff) {
    title = "Your runner is at the drop-off";
    lines.push(
      `Since ${timeOf(booking.arrived_at_dropoff)}: whoever receives ${pet} needs the PIN.`,
    );
  } else if (noShow?.where === "pickup") {
    title = "Nobody came to the pickup";
    lines.push(
      `Your runner waited and declared a no-show at ${timeOf(noShow.declared_at)}: the trip is cancelled.`,
      `No-show fee: ${money(noShow.fee_cents, booking.currency)}; the rest of the hold is released to you.`,
    );
  } else if (noShow && status === "returning") {
    title = `${pet} is on the way back to the pickup`;
    lines.push(
      `Nobody came to the drop-off: your runner declared a no-show at ${timeOf(noShow.declared_at)} and is bringing ${pet} back.`,
    );
  } else if (noShow && status === "returned") {
    title = "Returned";
    lines.push(
      `${pet} was handed back at the pickup at ${timeOf(booking.return_proof?.at ?? noShow.declared_at)} after nobody came to the drop-off.`,
      `Charged ${money(booking.final_price_cents ?? 0, booking.currency)}; the rest of the hold is released to you.`,
    );
  } else if (noShow) {
    title = "Nobody came to the drop-off";
    lines.push(
      `Your runner declared a no-show at ${timeOf(noShow.declared_at)}: our operations team decides what happens next.`,
    );
  }
  if (noShow?.reason) lines.push(`The runner said: “${noShow.reason}”`);
  document.getElementById("no-show").hidden = title === "";
  document.getElementById("no-show-title").textContent = title;
  document.getElementById("no-show-text").replaceChildren(
    ...lines.map((line) => {
      const item = document.createElement("p");
      item.textContent = line;
      return item;
    }),
  );
}

/** A trip that is over is shared no more. */
const OVER = ["confirmed", "completed", "cancelled", "expired", "disputed", "refunded", "returned"];

document.getElementById("share").addEventListener("click", async () => {
  const made = await api(token, `/api/bookings/${encodeURIComponent(bookingId)}/share`, {
    method: "POST",
    body: JSON.stringify({}),
  });
  const out = document.getElementById("share-link");
  out.textContent =
    made.status === 201
      ? `${location.origin}${made.body.url} (until ${new Date(made.body.expires_at).toLocaleString()})`
      : `The trip cannot be shared: ${made.body.message ?? "try again later"}`;
});

/**
 * Once the trip completed: the rating form while the caller may rate, and the ratings it may see
 * (each party sees the other's once both have rated, or the rating window has closed).
 */
async function showRating(booking) {
  if (booking.status !== "completed") return;
  const ratings = await api(token, `/api/bookings/${encodeURIComponent(bookingId)}/ratings`);
  if (ratings.status !== 200) return;
  const { can_rate, items, hidden, window_ends_at } = ratings.body;
  document.getElementById("rating").hidden = false;
  document.getElementById("rating-form").hidden = !can_rate;
  document.getElementById("ratings").replaceChildren(
    ...items.map((rating) => {
      const item = document.createElement("li");
      const who = rating.rater_role === "owner" ? "The owner" : "The runner";
      item.textContent = `${who}: ${"★".repeat(rating.stars)}${rating.text ? ` “${rating.text}”` : ""}`;
      return item;
    }),
  );
  document.getElementById("rating-note").textContent =
    hidden > 0
      ? `You have been rated: you see it once you rate, or after ${new Date(window_ends_at).toLocaleString()}.`
      : "";
}

document.getElementById("rating-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const sent = await api(token, `/api/bookings/${encodeURIComponent(bookingId)}/rating`, {
    method: "POST",
    body: JSON.stringify({
      stars: Number(document.getElementById("rating-stars").value),
      text: document.getElementById("rating-text").value,
    }),
  });
  if (sent.status !== 201) {
    document.getElementById("rating-note").textContent =
      `The rating was not sent: ${sent.body.message ?? "try again later"}`;
    return;
  }
  if (trip.booking) await showRating(trip.booking);
});

function redraw() {
  const { booking, route, runner } = trip;
  if (!booking) return;
  map.fit([booking.pickup, booking.dropoff, ...route]);
  map.draw({
    route,
    pickup: booking.pickup,
    dropoff: booking.dropoff,
    runners: runner ? [{ id: booking.runner_id ?? "runner", ...runner, label: "Runner" }] : [],
  });
}

/** The booking and its track as the server has them now (on load, and after a reconnect). */
async function load() {
  const booking = await api(token, `/api/bookings/${encodeURIComponent(bookingId)}`);
  if (booking.status === 401) return (notify(tokenProblem(booking.body.data?.reason)), false);
  if (booking.status === 404 || booking.status === 403) {
    notify("This trip is not yours to watch: only its owner and its runner can.");
    return false;
  }
  if (booking.status !== 200) return (notify("The trip cannot be shown right now."), false);
  trip.booking = booking.body;
  document.getElementById("title").textContent = `${booking.body.pet_name}'s trip`;
  document.getElementById("subtitle").textContent = booking.body.booking_number;
  showSteps(booking.body.status);
  showHandover(booking.body);
  showNoShow(booking.body);
  showProblem(booking.body);
  void showRating(booking.body);
  const track = await api(token, `/api/bookings/${encodeURIComponent(bookingId)}/track?limit=2000`);
  if (track.status === 200) {
    trip.route = track.body.waypoints.map(({ lat, lng }) => ({ lat, lng }));
    trip.runner = trip.route.at(-1) ?? null;
    showFacts(track.body);
    if (track.body.welfare) {
      notify(
        "The runner has stopped for a while: our operations team is checking on your pet.",
        "warn",
      );
    }
  } else {
    showFacts(null);
  }
  redraw();
  return true;
}

function watch() {
  const socket = io({ auth: { token }, transports: ["websocket"] });
  socket.on("connect", () => {
    socket.emit("track:subscribe", { booking_id: bookingId }, (ack) => {
      if (!ack?.ok) {
        notify("This trip is not yours to watch: only its owner and its runner can.");
        return;
      }
      notify("");
      // Subscribed: what moved since the page last read the trip (before this subscription
      // took, or during a gap in the connection) is read again; the pushes carry on from here.
      void load();
    });
  });
  socket.on("connect_error", (error) => {
    if (/token|unauthorized/i.test(error.message)) {
      socket.disconnect();
      notify(tokenProblem(error.message));
    } else {
      notify("Connection lost — reconnecting…", "warn");
    }
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect") return;
    notify("Connection lost — reconnecting…", "warn");
    // The client retries by itself, except after the server hung up: then it is asked to.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("track:update", (fix) => {
    trip.route.push({ lat: fix.lat, lng: fix.lng });
    trip.runner = { lat: fix.lat, lng: fix.lng };
    showFacts(fix);
    redraw();
  });
  socket.on("booking:status", async ({ status }) => {
    showSteps(status);
    const booking = await api(token, `/api/bookings/${encodeURIComponent(bookingId)}`);
    if (booking.status === 200) {
      trip.booking = booking.body;
      showHandover(booking.body);
      showNoShow(booking.body);
      showProblem(booking.body);
      void showRating(booking.body);
    }
    if (ARRIVED.includes(status) || status === "returning") {
      document.getElementById("eta").textContent = etaText(status, null);
    }
    showFacts(null);
  });
}

if (!token) notify("This link has no access token: open the trip from the app.");
else if (await load()) watch();
