/**
 * The pages' map, through Leaflet (loaded before this module as /pages/leaflet.js, which the
 * gateway serves from its own node_modules). Without a tile server (MAP_TILE_URL) it is a plain
 * background with the trip on it: route, pickup, drop-off, runners; zoom, pan and a scale bar
 * either way. Markers are SVG circles, so no marker image is needed.
 */
const L = window.L;

const MAX_ZOOM = 19;
/** The closest an automatic fit goes: a runner standing still is not shown a house wide. */
const FIT_MAX_ZOOM = 16;

/** A label as text, never as HTML: runner ids and names are not markup. */
function textNode(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

/** Leaflet writes attributions as HTML; the configured one is shown as typed. */
function escapeHtml(text) {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

/** A label beside a place, above a runner: a runner at a place leaves both readable. */
const labelled = (layer, text, above = false) =>
  layer.bindTooltip(textNode(text), {
    permanent: true,
    direction: above ? "top" : "right",
    offset: above ? [0, -10] : [8, 0],
    className: "map-label",
  });

export class TripMap {
  /** @param {HTMLElement} container @param {{ tileUrl?: string, tileAttribution?: string }} options */
  constructor(container, options = {}) {
    this.container = container;
    this.map = L.map(container, { maxZoom: MAX_ZOOM, minZoom: 1, zoomSnap: 0.5 });
    this.map.fitWorld(); // a view until there is something to show
    if (options.tileUrl) {
      L.tileLayer(options.tileUrl, {
        maxZoom: MAX_ZOOM,
        attribution: options.tileAttribution ? escapeHtml(options.tileAttribution) : "",
      }).addTo(this.map);
    }
    L.control.scale({ imperial: false }).addTo(this.map);
    this.route = L.polyline([], { className: "route", interactive: false }).addTo(this.map);
    /** "pickup" | "dropoff" → marker */
    this.places = new Map();
    /** runner id → marker */
    this.runners = new Map();
    this.fitted = false;
    // Once the person moved the map, it stays where they put it.
    this.userMoved = false;
    this.fitting = false;
    this.map.on("dragstart", () => (this.userMoved = true));
    this.map.on("zoomstart", () => {
      if (!this.fitting) this.userMoved = true;
    });
    // The page's layout may change the map's size (the ops grid, a rotated phone).
    new window.ResizeObserver(() => this.map.invalidateSize()).observe(container);
  }

  /** Fits the view around the points the first time, then when one leaves it (unless moved by hand). */
  fit(points) {
    const latLngs = points.filter(Boolean).map(({ lat, lng }) => [lat, lng]);
    if (latLngs.length === 0) return;
    const bounds = L.latLngBounds(latLngs);
    if (this.fitted && (this.userMoved || this.map.getBounds().pad(-0.05).contains(bounds))) {
      return;
    }
    this.fitting = true;
    // Some room around, for the runner to move before the view has to change.
    this.map.fitBounds(bounds.pad(0.2), {
      maxZoom: FIT_MAX_ZOOM,
      padding: [24, 24],
      animate: false,
    });
    this.fitting = false;
    this.fitted = true;
  }

  /**
   * Shows the scene: the route so far, the pickup and drop-off, and runners (one for a trip, all
   * online ones for operators), moving the markers already there.
   * @param {{ route?: {lat:number,lng:number}[], pickup?: object, dropoff?: object,
   *   runners?: {id:string,lat:number,lng:number,label?:string,busy?:boolean}[] }} scene
   */
  draw(scene) {
    const route = scene.route ?? [];
    this.route.setLatLngs(route.map(({ lat, lng }) => [lat, lng]));
    this.container.dataset.points = String(route.length);
    this.place("pickup", scene.pickup, "Pickup");
    this.place("dropoff", scene.dropoff, "Drop-off");
    const shown = new Set();
    for (const runner of scene.runners ?? []) {
      shown.add(runner.id);
      let mark = this.runners.get(runner.id);
      if (mark) mark.setLatLng([runner.lat, runner.lng]);
      else {
        mark = L.circleMarker([runner.lat, runner.lng], {
          radius: 10,
          className: "runner",
          interactive: false,
        });
        if (runner.label) labelled(mark, runner.label, true);
        this.runners.set(runner.id, mark.addTo(this.map));
      }
      mark.bringToFront();
      const element = mark.getElement();
      element.classList.toggle("busy", Boolean(runner.busy));
      element.setAttribute("aria-label", runner.label ?? runner.id);
      Object.assign(element.dataset, {
        runner: runner.id,
        lat: String(runner.lat),
        lng: String(runner.lng),
      });
    }
    for (const [id, mark] of this.runners) {
      if (shown.has(id)) continue;
      mark.remove();
      this.runners.delete(id);
    }
  }

  place(kind, point, label) {
    const mark = this.places.get(kind);
    if (!point) return void (mark?.remove(), this.places.delete(kind));
    if (mark) return void mark.setLatLng([point.lat, point.lng]);
    const added = labelled(
      L.circleMarker([point.lat, point.lng], { radius: 7, className: kind, interactive: false }),
      label,
    ).addTo(this.map);
    added.getElement().setAttribute("aria-label", label);
    this.places.set(kind, added);
  }
}
