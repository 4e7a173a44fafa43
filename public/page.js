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
