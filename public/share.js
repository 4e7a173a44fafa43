import { TripMap } from "/pages/map.js";
import { STEPS as ALL_STEPS, notify, pageConfig, showSteps } from "/pages/page.js";

/**
 * The trip as a share link shows it, without a login: status, the pets' names, the runner's
 * first name, and the runner on the map with the ETA only while the pet is aboard. The link's
 * secret is in the fragment (`/share#<token>`), which browsers never send: the page sends it to
 * the API alone. It reads the trip every few seconds; a revoked or expired link stops at once.
 */

/** The recipient's part of the trip: up to the handover. */
const STEPS = ALL_STEPS.slice(0, ALL_STEPS.findIndex(([step]) => step === "delivered") + 1);
const EVERY_MS = 5000;

const token = location.hash.slice(1);
const config = await pageConfig();
const map = new TripMap(document.getElementById("map"), {
  tileUrl: config.tile_url,
  tileAttribution: config.tile_attribution,
});

function show(trip) {
  const names = trip.pets.map((pet) => pet.name).join(" & ");
  document.getElementById("title").textContent = `${names} on the way`;
  document.getElementById("subtitle").textContent = trip.booking_number;
  showSteps(trip.status, STEPS);
  document.getElementById("runner").textContent = trip.runner_first_name ?? "–";
  document.getElementById("eta").textContent =
    trip.status === "delivered"
      ? "Arrived"
      : trip.eta_seconds === null
        ? "–"
        : `~${Math.max(1, Math.round(trip.eta_seconds / 60))} min`;
  document.getElementById("expires").textContent = new Date(trip.expires_at).toLocaleString();
  const runner = trip.position ? [{ id: "runner", ...trip.position, label: "Runner" }] : [];
  map.fit([trip.dropoff, trip.position]);
  map.draw({ route: [], pickup: null, dropoff: trip.dropoff, runners: runner });
}

async function read() {
  const response = await fetch(`/api/shared/${encodeURIComponent(token)}`).catch(() => null);
  if (!response) return (notify("Connection lost — trying again…", "warn"), true);
  if (response.status === 404 || response.status === 422) {
    notify("This link has expired or was revoked.");
    return false;
  }
  if (!response.ok) return (notify("The trip cannot be shown right now.", "warn"), true);
  notify("");
  show(await response.json());
  return true;
}

async function poll() {
  if (await read()) setTimeout(poll, EVERY_MS);
}

if (!token) notify("This link is incomplete: ask for it again.");
else await poll();
