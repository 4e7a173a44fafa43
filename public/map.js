/**
 * A map drawn in SVG from the points themselves: no tile server needed. Web Mercator, fitted
 * around what it shows, with a scale bar; an optional tile layer underneath (MAP_TILE_URL).
 */
const NS = "http://www.w3.org/2000/svg";
const WIDTH = 800;
const HEIGHT = 600;
const MARGIN = 48;
/** The smallest span shown, in projected units (about 400 m): a standing runner is not a dot. */
const MIN_SPAN = 0.4 / 40075;

/** Web Mercator, in [0, 1] × [0, 1]. */
function project({ lat, lng }) {
  const sin = Math.sin((lat * Math.PI) / 180);
  return { x: (lng + 180) / 360, y: 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI) };
}

function element(name, attributes = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** 1, 2 or 5 × 10ⁿ metres: the bar length closest under `metres`. */
function niceMetres(metres) {
  const power = 10 ** Math.floor(Math.log10(metres));
  return [5, 2, 1].map((step) => step * power).find((length) => length <= metres) ?? power;
}

export class TripMap {
  /** @param {SVGSVGElement} svg @param {{ tileUrl?: string }} options */
  constructor(svg, options = {}) {
    this.svg = svg;
    this.tileUrl = options.tileUrl || "";
    this.view = null;
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute("role", "img");
  }

  /** Fits the view around the points, unless they all fit the current one already. */
  fit(points) {
    const projected = points.filter(Boolean).map(project);
    if (projected.length === 0) return;
    if (this.view && projected.every((p) => this.inside(p))) return;
    let [minX, maxX] = [
      Math.min(...projected.map((p) => p.x)),
      Math.max(...projected.map((p) => p.x)),
    ];
    let [minY, maxY] = [
      Math.min(...projected.map((p) => p.y)),
      Math.max(...projected.map((p) => p.y)),
    ];
    const grow = (min, max) => {
      const span = Math.max(max - min, MIN_SPAN) * 1.3; // room to move before the view changes
      const mid = (min + max) / 2;
      return [mid - span / 2, mid + span / 2];
    };
    [minX, maxX] = grow(minX, maxX);
    [minY, maxY] = grow(minY, maxY);
    const scale = Math.min(
      (WIDTH - 2 * MARGIN) / (maxX - minX),
      (HEIGHT - 2 * MARGIN) / (maxY - minY),
    );
    this.view = { x: (minX + maxX) / 2, y: (minY + maxY) / 2, scale };
  }

  inside(p) {
    const { x, y } = this.toScreen(p);
    return (
      x >= MARGIN / 2 && x <= WIDTH - MARGIN / 2 && y >= MARGIN / 2 && y <= HEIGHT - MARGIN / 2
    );
  }

  /** Projected units → SVG pixels. */
  toScreen({ x, y }) {
    return {
      x: WIDTH / 2 + (x - this.view.x) * this.view.scale,
      y: HEIGHT / 2 + (y - this.view.y) * this.view.scale,
    };
  }

  at(point) {
    return this.toScreen(project(point));
  }

  /**
   * Draws everything anew: the route so far, the pickup and drop-off, and runners (one for a
   * trip, all online ones for operators).
   * @param {{ route?: {lat:number,lng:number}[], pickup?: object, dropoff?: object,
   *   runners?: {id:string,lat:number,lng:number,label?:string,busy?:boolean}[] }} scene
   */
  draw(scene) {
    const svg = this.svg;
    svg.replaceChildren();
    if (!this.view) return;
    if (this.tileUrl) this.drawTiles();
    this.drawGrid();
    const route = scene.route ?? [];
    if (route.length > 1) {
      const points = route.map((p) => this.at(p)).map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`);
      svg.append(element("polyline", { class: "route", points: points.join(" ") }));
    }
    svg.dataset.points = String(route.length);
    for (const [kind, point] of [
      ["pickup", scene.pickup],
      ["dropoff", scene.dropoff],
    ]) {
      if (!point) continue;
      const { x, y } = this.at(point);
      svg.append(element("circle", { class: kind, cx: x, cy: y, r: 8 }));
      svg.append(
        element("text", { x: x + 12, y: y + 4 }, kind === "pickup" ? "Pickup" : "Drop-off"),
      );
    }
    for (const runner of scene.runners ?? []) {
      const { x, y } = this.at(runner);
      const mark = element("circle", {
        class: runner.busy ? "runner busy" : "runner",
        cx: x.toFixed(1),
        cy: y.toFixed(1),
        r: 16,
        "data-runner": runner.id,
        "data-lat": runner.lat,
        "data-lng": runner.lng,
      });
      mark.append(element("title", {}, runner.label ?? runner.id));
      svg.append(mark);
      if (runner.label) svg.append(element("text", { x: x + 22, y: y - 14 }, runner.label));
    }
    this.drawScale();
  }

  drawGrid() {
    for (let i = 1; i < 8; i++) {
      const x = (WIDTH / 8) * i;
      const y = (HEIGHT / 8) * i;
      this.svg.append(element("line", { class: "grid", x1: x, y1: 0, x2: x, y2: HEIGHT }));
      this.svg.append(element("line", { class: "grid", x1: 0, y1: y, x2: WIDTH, y2: y }));
    }
  }

  drawScale() {
    // Metres per projected unit at the view's latitude.
    const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * this.view.y))) * 180) / Math.PI;
    const metresPerPixel = (40_075_016.686 * Math.cos((lat * Math.PI) / 180)) / this.view.scale;
    const metres = niceMetres((WIDTH / 5) * metresPerPixel);
    const length = metres / metresPerPixel;
    const [x, y] = [20, HEIGHT - 20];
    this.svg.append(element("line", { class: "scale", x1: x, y1: y, x2: x + length, y2: y }));
    const label = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
    this.svg.append(element("text", { x, y: y - 10 }, label));
  }

  /** Square tiles of the configured server under everything, at the zoom the view needs. */
  drawTiles() {
    const zoom = Math.max(0, Math.min(19, Math.round(Math.log2(this.view.scale / 256))));
    const tiles = 2 ** zoom;
    const corner = (sx, sy) => ({
      x: this.view.x + (sx - WIDTH / 2) / this.view.scale,
      y: this.view.y + (sy - HEIGHT / 2) / this.view.scale,
    });
    const [from, to] = [corner(0, 0), corner(WIDTH, HEIGHT)];
    for (let tx = Math.floor(from.x * tiles); tx <= Math.floor(to.x * tiles); tx++) {
      for (let ty = Math.floor(from.y * tiles); ty <= Math.floor(to.y * tiles); ty++) {
        if (ty < 0 || ty >= tiles) continue;
        const { x, y } = this.toScreen({ x: tx / tiles, y: ty / tiles });
        const size = this.view.scale / tiles;
        const href = this.tileUrl
          .replace("{z}", String(zoom))
          .replace("{x}", String(((tx % tiles) + tiles) % tiles))
          .replace("{y}", String(ty));
        this.svg.append(element("image", { href, x, y, width: size + 0.5, height: size + 0.5 }));
      }
    }
  }
}

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
