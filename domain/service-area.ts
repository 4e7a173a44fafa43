import { unreachable } from "./decider";
import { distanceKm, type LatLng } from "./geo";

/**
 * Where Kilat takes bookings: a list of areas (a city as a circle, or as a polygon of its
 * boundary), and how long one trip may be. Runners are not bound by it: they may drive anywhere.
 *
 * Polygons are drawn on the flat lat/lng plane, which is exact enough for a city; an area must
 * not cross the antimeridian (±180° longitude).
 */
export type ServiceArea =
  | { shape: "circle"; name: string; center: LatLng; radiusKm: number }
  | { shape: "polygon"; name: string; points: LatLng[] };

export interface ServiceAreaPolicy {
  areas: ServiceArea[];
  maxTripKm: number;
}

/** What is wrong with a trip, by the request field a client would correct. */
export interface TripProblem {
  field: "pickup" | "dropoff";
  message: string;
}

/** Is the point inside the area? Its boundary counts as inside. */
export function contains(area: ServiceArea, point: LatLng): boolean {
  switch (area.shape) {
    case "circle":
      return inCircle(area.center, area.radiusKm, point);
    case "polygon":
      return inPolygon(area.points, point);
    default:
      return unreachable(area);
  }
}

export function inCircle(center: LatLng, radiusKm: number, point: LatLng): boolean {
  return distanceKm(center, point) <= radiusKm;
}

/** Even-odd ray casting towards growing longitude; a point on an edge or a vertex is inside. */
export function inPolygon(points: readonly LatLng[], point: LatLng): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const a = points[i];
    const b = points[j];
    if (onSegment(a, b, point)) return true;
    // Half-open in latitude, so a ray through a vertex counts the two edges meeting there once.
    if (a.lat > point.lat !== b.lat > point.lat) {
      const lngOnEdge = a.lng + ((point.lat - a.lat) * (b.lng - a.lng)) / (b.lat - a.lat);
      if (point.lng < lngOnEdge) inside = !inside;
    }
  }
  return inside;
}

/** Degrees² of slack for "on the line": far below a GPS fix's metre, above float rounding. */
const COLLINEAR_EPSILON = 1e-12;

function onSegment(a: LatLng, b: LatLng, p: LatLng): boolean {
  const cross = (b.lng - a.lng) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lng - a.lng);
  return (
    Math.abs(cross) <= COLLINEAR_EPSILON &&
    p.lng >= Math.min(a.lng, b.lng) &&
    p.lng <= Math.max(a.lng, b.lng) &&
    p.lat >= Math.min(a.lat, b.lat) &&
    p.lat <= Math.max(a.lat, b.lat)
  );
}

/**
 * May a booking go from pickup to dropoff? Both must be inside one service area, and the
 * trip (great-circle) no longer than `maxTripKm`. Nothing wrong: an empty list.
 */
export function tripProblems(
  policy: ServiceAreaPolicy,
  pickup: LatLng,
  dropoff: LatLng,
): TripProblem[] {
  const served = policy.areas.map((area) => area.name).join(", ");
  const pickupAreas = policy.areas.filter((area) => contains(area, pickup));
  const dropoffAreas = policy.areas.filter((area) => contains(area, dropoff));
  const problems: TripProblem[] = [];
  if (pickupAreas.length === 0)
    problems.push({ field: "pickup", message: `is outside the service area (${served})` });
  if (dropoffAreas.length === 0) {
    problems.push({ field: "dropoff", message: `is outside the service area (${served})` });
  } else if (pickupAreas.length > 0 && !dropoffAreas.some((area) => pickupAreas.includes(area))) {
    const names = pickupAreas.map((area) => area.name).join(", ");
    problems.push({
      field: "dropoff",
      message: `must be in the pickup's service area (${names})`,
    });
  }
  const km = distanceKm(pickup, dropoff);
  if (km > policy.maxTripKm) {
    problems.push({
      field: "dropoff",
      message: `is ${km.toFixed(1)} km from the pickup; a trip may be at most ${policy.maxTripKm} km`,
    });
  }
  return problems;
}
