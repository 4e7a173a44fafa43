import { readFileSync, readdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, extname, join } from "node:path";
import { DISPUTE_PHOTOS_MAX } from "../../contracts";
import type { Config } from "../../lib/config";
import { HTTP_STATUS } from "../../lib/http-status";
import { PROJECT_ROOT } from "../../lib/paths";

/**
 * The pages the gateway serves: the owner's live trip (`/track/:booking_id`) and the operators'
 * view (`/ops`), plain HTML, CSS and ES modules from `public/` and the Leaflet map library from
 * its npm package, no build step and no CDN. The token comes in the link's fragment
 * (`#token=…`), which browsers never send: it reaches the server only as a bearer token, so no
 * URL the server sees (or logs) carries it.
 */
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/**
 * The map library, from the installed package rather than a CDN: only the files the pages use
 * (the markers are drawn as circles, so Leaflet's marker images are never asked for).
 */
const LEAFLET = dirname(require.resolve("leaflet/dist/leaflet.js"));
const VENDOR = ["leaflet.js", "leaflet.css"].map(
  (name) => [name, readFileSync(join(LEAFLET, name))] as const,
);

/** Every file of public/ and the allowed vendor files, read once. */
const FILES = new Map([
  ...readdirSync(join(PROJECT_ROOT, "public")).map(
    (name) => [name, readFileSync(join(PROJECT_ROOT, "public", name))] as const,
  ),
  ...VENDOR,
]);

/**
 * The origin the tiles come from, as a CSP source: Leaflet's `{s}` subdomain becomes a `*`
 * wildcard (`https://{s}.tile.example.org` → `https://*.tile.example.org`), and other
 * placeholders cannot be in the origin.
 */
export function tileOrigin(tileUrl: string): string {
  return new URL(tileUrl.replace(/\{s\}/g, "*").replace(/\{[^}]*\}/g, "0")).origin;
}

/**
 * What a page may load: its own scripts and styles, and talk to this origin only (REST and
 * Socket.IO); images also from the tile server, when one is configured. No inline script, no
 * inline style attribute (Leaflet positions its layers through the CSSOM, which this allows).
 */
function contentSecurityPolicy(config: Config): string {
  const tiles = config.mapTileUrl ? ` ${tileOrigin(config.mapTileUrl)}` : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // blob: the proof photos, fetched with the bearer token and shown from memory.
    `img-src 'self' data: blob:${tiles}`,
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

/** A page or an asset of public/ (or an allowed vendor file), by its file name. */
export function servePublic(config: Config, name: string, res: ServerResponse): void {
  const file = FILES.get(name);
  const type = TYPES[extname(name)];
  if (!file || !type) {
    send(res, HTTP_STATUS.NOT_FOUND, "text/plain; charset=utf-8", "Not found", config);
    return;
  }
  send(res, HTTP_STATUS.OK, type, file, config);
}

/** What the pages need to know of the configuration (nothing secret). */
export function pagesConfig(config: Config, res: ServerResponse): void {
  send(
    res,
    HTTP_STATUS.OK,
    "application/json; charset=utf-8",
    JSON.stringify({
      tile_url: config.mapTileUrl ?? null,
      // Absent without tiles: there is nothing to credit then.
      tile_attribution: config.mapTileUrl ? config.mapTileAttribution : undefined,
      // The trip page's "Report a problem": what the API takes.
      dispute_reasons: config.disputeReasons,
      dispute_photos_max: DISPUTE_PHOTOS_MAX,
    }),
    config,
  );
}

/** The file a `/pages/<name>` request names (no paths: only the files of FILES). */
export const assetOf = (req: IncomingMessage) =>
  decodeURIComponent((req.url ?? "").split("?")[0].split("/").pop() ?? "");
