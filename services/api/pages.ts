import { readFileSync, readdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import type { Config } from "../../lib/config";
import { PROJECT_ROOT } from "../../lib/paths";

/**
 * The pages the gateway serves: the owner's live trip (`/track/:booking_id`) and the operators'
 * view (`/ops`), plain HTML, CSS and ES modules from `public/`, no build step. The token comes
 * in the link's fragment (`#token=…`), which browsers never send: it reaches the server only as
 * a bearer token, so no URL the server sees (or logs) carries it.
 */
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/** Every file of public/, read once. */
const FILES = new Map(
  readdirSync(join(PROJECT_ROOT, "public")).map((name) => [
    name,
    readFileSync(join(PROJECT_ROOT, "public", name)),
  ]),
);

/**
 * What a page may load: its own scripts and styles, and talk to this origin only (REST and
 * Socket.IO); images also from the tile server, when one is configured. No inline script.
 */
function contentSecurityPolicy(config: Config): string {
  const tiles = config.mapTileUrl
    ? ` ${new URL(config.mapTileUrl.replace(/[{}]/g, "")).origin}`
    : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${tiles}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: Buffer | string,
  config: Config,
) {
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Security-Policy", contentSecurityPolicy(config));
  res.setHeader("Cache-Control", "no-cache");
  res.writeHead(status);
  res.end(body);
}

/** A page or an asset of public/, by its file name. */
export function servePublic(config: Config, name: string, res: ServerResponse): void {
  const file = FILES.get(name);
  const type = TYPES[extname(name)];
  if (!file || !type) {
    send(res, 404, "text/plain; charset=utf-8", "Not found", config);
    return;
  }
  send(res, 200, type, file, config);
}

/** What the pages need to know of the configuration (nothing secret). */
export function pagesConfig(config: Config, res: ServerResponse): void {
  send(
    res,
    200,
    "application/json; charset=utf-8",
    JSON.stringify({ tile_url: config.mapTileUrl ?? null }),
    config,
  );
}

/** The file a `/pages/<name>` request names (no paths: only the files of public/ itself). */
export const assetOf = (req: IncomingMessage) =>
  decodeURIComponent((req.url ?? "").split("?")[0].split("/").pop() ?? "");
