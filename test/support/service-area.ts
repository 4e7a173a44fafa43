/**
 * The service area the test systems run with: the whole map, so that each test file may book in
 * a "city" of its own, far from the others' runners. Trips stay within MAX_TRIP_KM. Tests of the
 * service area itself set SERVICE_AREA ("" for the default, greater Jakarta).
 */
export const ANYWHERE = JSON.stringify([{ name: "anywhere", lat: 0, lng: 0, radius_km: 20_038 }]);
