/** What both pages share: the token from the link, API calls, the notice bar, money. */

/** The page's token: from the link's fragment (never sent to the server), then out of the URL. */
export function takeToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

/** A JSON call with the page's bearer token; the status and the body. */
export async function api(token, path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: {
      authorization: `Bearer ${token}`,
      ...(options.body ? { "content-type": "application/json" } : {}),
    },
  });
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}

/** What the pages know of the configuration: the tile server, if any, and its attribution. */
export async function pageConfig() {
  return fetch("/pages/config.json")
    .then((r) => r.json())
    .catch(() => ({}));
}

/** Shows one message in the page's notice bar, or hides it (and logs each change). */
export function notify(text, kind = "error") {
  const bar = document.getElementById("notice");
  if (bar.hidden && !text) return;
  console.info(`notice: ${text ?? ""}`);
  bar.hidden = !text;
  bar.className = kind === "error" ? "notice error" : "notice";
  bar.textContent = text ?? "";
  bar.dataset.kind = text ? kind : "";
}

/** What a refused token means to a person; `reason` is the server's ("token expired", …). */
export function tokenProblem(reason = "") {
  return /expired/i.test(reason)
    ? "Your link has expired: open it again from the app for a fresh one."
    : "This link is not valid: open it again from the app.";
}

export const money = (cents, currency) =>
  `${currency} ${(cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** A booking's steps as the pages show them, in order. */
export const STEPS = [
  ["requested", "Booked"],
  ["accepted", "Runner on the way"],
  ["picked_up", "Picked up"],
  ["in_transit", "On the road"],
  ["delivered", "Delivered"],
  ["confirmed", "Confirmed"],
  ["completed", "Completed"],
];

/** Where a trip whose owner reported a problem goes after the delivery. */
const DISPUTED = [
  ["disputed", "Problem reported"],
  ["refunded", "Refunded"],
];

/** Where a trip nobody met at the drop-off goes: back to the pickup (domain/no-show.ts). */
const RETURNED = [
  ["returning", "Nobody at the drop-off: coming back"],
  ["returned", "Back at the pickup"],
];

/** The road a trip in `status` took: a disputed one leaves it after the delivery. */
function roadOf(status, steps) {
  const back = RETURNED.findIndex(([step]) => step === status);
  if (back >= 0) {
    const transit = steps.findIndex(([step]) => step === "in_transit");
    return [...steps.slice(0, transit + 1), ...RETURNED.slice(0, back + 1)];
  }
  const after = DISPUTED.findIndex(([step]) => step === status);
  if (after < 0) return steps;
  const delivered = steps.findIndex(([step]) => step === "delivered");
  return [...steps.slice(0, delivered + 1), ...DISPUTED.slice(0, after + 1)];
}

/** The steps up to `status`, the one it is at marked; a cancelled trip shows that alone. */
export function showSteps(status, steps = STEPS) {
  const list = document.getElementById("steps");
  list.dataset.status = status;
  const road = roadOf(status, steps);
  const at = road.findIndex(([step]) => step === status);
  list.replaceChildren(
    ...(status === "cancelled" ? [["cancelled", "Cancelled"]] : road).map(([step, label], i) => {
      const item = document.createElement("li");
      item.textContent = label;
      item.dataset.step = step;
      if (status === "cancelled" || i === at) item.className = "now";
      else if (i < at) item.className = "done";
      return item;
    }),
  );
}
