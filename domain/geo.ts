export interface LatLng {
  lat: number;
  lng: number;
}

/**
 * The furthest a position may be from the equator: the geo index (Redis GEO) stores Web
 * Mercator, which stops here. A pickup beyond it could never be searched, so no request may
 * bring one in.
 */
export const MAX_LATITUDE = 85.05112878;

/** Can the geo index hold this position? */
export const isMappable = ({ lat, lng }: LatLng): boolean =>
  Math.abs(lat) <= MAX_LATITUDE && Math.abs(lng) <= 180;

const EARTH_RADIUS_KM = 6371.0088;
const rad = (degrees: number) => (degrees * Math.PI) / 180;

/** Great-circle distance (haversine) in kilometres. */
export function distanceKm(from: LatLng, to: LatLng): number {
  const dLat = rad(to.lat - from.lat);
  const dLng = rad(to.lng - from.lng);
  const a =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(rad(from.lat)) * Math.cos(rad(to.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}
