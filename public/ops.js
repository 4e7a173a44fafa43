import { TripMap } from "/pages/map.js";
import { api, notify, pageConfig, takeToken, tokenProblem } from "/pages/page.js";
import { watchAlerts } from "/pages/ops-alerts.js";

/**
 * The operators' page (admins): online and busy runners on a map, live from `runners:subscribe`;
 * bookings waiting for a runner, with how long; dead letters per topic, replayed through the
 * same actions (and role check) as the REPL's `dlq replay`.
 */
const token = takeToken();
const config = await pageConfig();
const map = new TripMap(document.getElementById("map"), {
  tileUrl: config.tile_url,
  tileAttribution: config.tile_attribution,
});
/** runner id → { lat, lng, availability, booking, at } */
const runners = new Map();
let waiting = [];

const cell = (text) => {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
};
const row = (...cells) => {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
};
const ago = (iso) => {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 90 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
};

/** A refusal of the page's token or role, said once; true when the page cannot go on. */
function refused(status, body) {
  if (status === 401) notify(tokenProblem(body.data?.reason));
  else if (status === 403) notify("This page is for operators: sign in with an admin account.");
  else return false;
  return true;
}

function showRunners() {
  const list = [...runners.entries()].sort(([a], [b]) => a.localeCompare(b));
  document.getElementById("runner-count").textContent = String(list.length);
  document.getElementById("runners").replaceChildren(
    ...list.map(([id, r]) => {
      const tr = row(
        cell(id),
        cell(r.availability),
        cell(r.booking ?? "–"),
        cell(r.at ? ago(r.at) : "–"),
      );
      tr.dataset.runner = id;
      return tr;
    }),
  );
  const placed = list.filter(([, r]) => r.lat !== undefined);
  map.fit(placed.map(([, r]) => r));
  map.draw({
    runners: placed.map(([id, r]) => ({
      id,
      lat: r.lat,
      lng: r.lng,
      label: id,
      busy: r.availability === "busy",
    })),
  });
}

function showWaiting() {
  document.getElementById("waiting-count").textContent = String(waiting.length);
  document.getElementById("waiting").replaceChildren(
    ...waiting.map((b) => {
      const tr = row(
        cell(b.booking_number),
        cell(`${b.pet_name} (${b.pet_type})`),
        cell(b.payment_status),
        cell(ago(b.created_at)),
      );
      tr.dataset.booking = b.booking_id;
      return tr;
    }),
  );
}

async function loadRunners() {
  const { status, body } = await api(token, "/api/runners/online?limit=1000");
  if (refused(status, body)) return false;
  runners.clear();
  for (const r of body.items ?? []) {
    runners.set(r.runner_id, {
      availability: r.availability,
      booking: r.active_booking_id,
      ...(r.position
        ? { lat: r.position.lat, lng: r.position.lng, at: r.position.reported_at }
        : {}),
    });
  }
  showRunners();
  return true;
}

async function loadWaiting() {
  const { status, body } = await api(token, "/api/bookings?status=requested&limit=100");
  if (status === 200) waiting = [...body.items].reverse(); // longest waiting first
  showWaiting();
}

async function loadLetters() {
  const { status, body } = await api(token, "/api/ops/dead-letters");
  const box = document.getElementById("letters");
  box.dataset.loaded = "true";
  if (status !== 200)
    return void box.replaceChildren(document.createTextNode("Dead letters cannot be read now."));
  const letters = Array.isArray(body) ? body : [];
  document.getElementById("letter-count").textContent = String(letters.length);
  const topics = [...new Set(letters.map((l) => l.origin?.topic ?? l.topic))];
  box.replaceChildren(
    ...(topics.length === 0 ? [document.createTextNode("None: every event was handled.")] : []),
    ...topics.map((topic) => {
      const mine = letters.filter((l) => (l.origin?.topic ?? l.topic) === topic);
      const section = document.createElement("div");
      section.dataset.topic = topic;
      const title = document.createElement("h3");
      title.textContent = `${topic} (${mine.length})`;
      const all = document.createElement("button");
      all.textContent = "Replay all";
      all.addEventListener("click", () => void replay({ topic, all: true }));
      const table = document.createElement("table");
      table.append(
        ...mine.map((l) => {
          const button = document.createElement("button");
          button.textContent = "Replay";
          button.addEventListener(
            "click",
            () => void replay({ topic, offset: `${l.partition}:${l.offset}` }),
          );
          const action = document.createElement("td");
          action.append(button);
          return row(
            cell(l.type ?? "(not an event)"),
            cell(l.group ?? "–"),
            cell(l.error ?? "–"),
            cell(String(l.attempts ?? "–")),
            action,
          );
        }),
      );
      section.append(title, all, table);
      return section;
    }),
  );
}

async function replay(what) {
  const { status, body } = await api(token, "/api/ops/dead-letters/replay", {
    method: "POST",
    body: JSON.stringify(what),
  });
  if (refused(status, body)) return;
  notify(
    status === 200
      ? `Replayed ${body.replayed} dead letter(s).`
      : (body.message ?? "Replay failed."),
    status === 200 ? "info" : "error",
  );
  await loadLetters();
}

function watch() {
  const socket = io({ auth: { token }, transports: ["websocket"] });
  let connected = false;
  socket.on("connect", () => {
    if (connected) void loadRunners(); // back after a gap: who is online now
    connected = true;
    socket.emit("runners:subscribe", {}, (ack) => {
      if (!ack?.ok) notify("This page is for operators: sign in with an admin account.");
      else notify("");
    });
  });
  socket.on("connect_error", (error) => {
    if (/token|unauthorized/i.test(error.message)) {
      socket.disconnect();
      notify(tokenProblem(error.message));
    } else notify("Connection lost — reconnecting…", "warn");
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect") return;
    notify("Connection lost — reconnecting…", "warn");
    // The client retries by itself, except after the server hung up: then it is asked to.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("runner:online", ({ runner_id, lat, lng, at }) => {
    runners.set(runner_id, { ...runners.get(runner_id), availability: "online", lat, lng, at });
    showRunners();
  });
  socket.on("runner:offline", ({ runner_id }) => {
    runners.delete(runner_id);
    showRunners();
  });
  socket.on("runner:location", ({ runner_id, lat, lng, at }) => {
    runners.set(runner_id, { availability: "online", ...runners.get(runner_id), lat, lng, at });
    showRunners();
  });
}

if (!token) notify("This link has no access token: open it with an admin token (#token=…).");
else if (await loadRunners()) {
  watch();
  watchAlerts(token);
  await Promise.all([loadWaiting(), loadLetters()]);
  setInterval(() => void loadWaiting(), 5000);
  setInterval(showWaiting, 1000);
}
