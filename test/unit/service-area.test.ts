import {
  contains,
  inCircle,
  inPolygon,
  tripProblems,
  type ServiceArea,
  type ServiceAreaPolicy,
} from "../../domain/service-area";
import { ConfigError, loadConfig } from "../../lib/config";

const MONAS = { lat: -6.1754, lng: 106.8272 };
const BOGOR = { lat: -6.595, lng: 106.8166 };
const BANDUNG = { lat: -6.9175, lng: 107.6191 };
const PARIS = { lat: 48.8566, lng: 2.3522 };

const jakarta: ServiceArea = {
  shape: "circle",
  name: "jakarta",
  center: { lat: -6.2, lng: 106.8 },
  radiusKm: 60,
};
const bandung: ServiceArea = {
  shape: "circle",
  name: "bandung",
  center: { lat: -6.9, lng: 107.6 },
  radiusKm: 25,
};

/** A unit square, and an L (concave): 2×2 less its upper-right quarter. */
const square = [
  { lat: 0, lng: 0 },
  { lat: 0, lng: 1 },
  { lat: 1, lng: 1 },
  { lat: 1, lng: 0 },
];
const ell = [
  { lat: 0, lng: 0 },
  { lat: 0, lng: 2 },
  { lat: 1, lng: 2 },
  { lat: 1, lng: 1 },
  { lat: 2, lng: 1 },
  { lat: 2, lng: 0 },
];

describe("inCircle", () => {
  it.each([
    ["Monas, 3 km from the centre", true, MONAS],
    ["Bogor, 44 km from the centre", true, BOGOR],
    ["Bandung, 120 km away", false, BANDUNG],
  ])("given %s and a 60 km circle, then inside is %s", (_label, inside, point) => {
    expect(inCircle(jakarta.center, 60, point)).toBe(inside);
  });

  it("given a point exactly on the circle, then it is inside", () => {
    const oneDegreeNorth = { lat: 1, lng: 0 };
    expect(inCircle({ lat: 0, lng: 0 }, 111.19508, oneDegreeNorth)).toBe(false);
    expect(inCircle({ lat: 0, lng: 0 }, 111.19509, oneDegreeNorth)).toBe(true);
  });
});

describe("inPolygon", () => {
  it.each([
    ["the middle of the square", true, square, { lat: 0.5, lng: 0.5 }],
    ["left of the square", false, square, { lat: 0.5, lng: -0.5 }],
    ["right of the square", false, square, { lat: 0.5, lng: 1.5 }],
    ["above the square", false, square, { lat: 1.5, lng: 0.5 }],
    ["on the square's lower edge", true, square, { lat: 0, lng: 0.5 }],
    ["on the square's right edge", true, square, { lat: 0.5, lng: 1 }],
    ["on a corner of the square", true, square, { lat: 1, lng: 1 }],
    ["on the line of an edge, past its end", false, square, { lat: 0, lng: 1.5 }],
    ["the L's foot", true, ell, { lat: 0.5, lng: 1.5 }],
    ["the L's missing quarter", false, ell, { lat: 1.5, lng: 1.5 }],
    ["the L's inner corner", true, ell, { lat: 1, lng: 1 }],
    // The ray east from here passes exactly through the vertex (1, 1): counted once, not twice.
    ["level with the L's inner corner, inside", true, ell, { lat: 1, lng: 0.5 }],
    ["level with the L's inner corner, outside", false, ell, { lat: 1, lng: -0.5 }],
  ])("given %s, then inside is %s", (_label, inside, polygon, point) => {
    expect(inPolygon(polygon, point)).toBe(inside);
  });

  it("given the same polygon listed the other way round, then the answers are the same", () => {
    const reversed = [...ell].reverse();
    const points = [
      { lat: 0.5, lng: 1.5 },
      { lat: 1.5, lng: 1.5 },
      { lat: 1, lng: 0.5 },
    ];
    expect(points.map((point) => inPolygon(reversed, point))).toEqual([true, false, true]);
  });

  it("given a polygon area, then contains() asks the polygon", () => {
    const area: ServiceArea = { shape: "polygon", name: "square", points: square };
    expect([contains(area, { lat: 0.5, lng: 0.5 }), contains(area, { lat: 2, lng: 2 })]).toEqual([
      true,
      false,
    ]);
  });
});

describe("tripProblems", () => {
  const policy: ServiceAreaPolicy = { areas: [jakarta, bandung], maxTripKm: 50 };

  it("given a trip across Jakarta, then nothing is wrong", () => {
    expect(tripProblems(policy, MONAS, BOGOR)).toEqual([]);
  });

  it("given Jakarta to Paris, then the dropoff is outside and the trip too long", () => {
    expect(tripProblems(policy, MONAS, PARIS)).toEqual([
      { field: "dropoff", message: "is outside the service area (jakarta, bandung)" },
      {
        field: "dropoff",
        message: "is 11581.3 km from the pickup; a trip may be at most 50 km",
      },
    ]);
  });

  it("given a pickup outside every area, then the pickup is named", () => {
    expect(tripProblems(policy, { lat: -6.9, lng: 107.3 }, BANDUNG)).toEqual([
      { field: "pickup", message: "is outside the service area (jakarta, bandung)" },
    ]);
  });

  it("given a trip from one area into another, then the dropoff must stay in the pickup's", () => {
    const wide = { ...policy, maxTripKm: 500 };
    expect(tripProblems(wide, MONAS, BANDUNG)).toEqual([
      { field: "dropoff", message: "must be in the pickup's service area (jakarta)" },
    ]);
  });

  it("given a trip longer than the limit inside one area, then the dropoff is named with the limit", () => {
    const big: ServiceAreaPolicy = { areas: [{ ...jakarta, radiusKm: 200 }], maxTripKm: 30 };
    expect(tripProblems(big, MONAS, BOGOR)).toEqual([
      { field: "dropoff", message: "is 46.7 km from the pickup; a trip may be at most 30 km" },
    ]);
  });
});

describe("SERVICE_AREA and MAX_TRIP_KM", () => {
  it("given neither, then bookings are taken within 60 km of central Jakarta, 50 km at most", () => {
    expect(loadConfig({}).serviceArea).toEqual({ areas: [jakarta], maxTripKm: 50 });
  });

  it("given the default, then the README's and the bench's trips are inside it", () => {
    const { serviceArea } = loadConfig({});
    const trips = [
      [
        { lat: -6.2, lng: 106.8 },
        { lat: -6.25, lng: 106.85 },
      ],
      [MONAS, { lat: -6.1951, lng: 106.8231 }],
      // bench/tracking.ts: its last runner's trip.
      [
        { lat: -5.81, lng: 106.7 },
        { lat: -5.76, lng: 106.7 },
      ],
    ];
    expect(trips.map(([from, to]) => tripProblems(serviceArea, from, to))).toEqual([[], [], []]);
  });

  it("given circles and polygons as JSON, then each becomes an area", () => {
    const config = loadConfig({
      SERVICE_AREA: JSON.stringify([
        { name: "jakarta", lat: -6.2, lng: 106.8, radius_km: 60 },
        {
          name: "square",
          polygon: [
            [0, 0],
            [0, 1],
            [1, 1],
            [1, 0],
          ],
        },
      ]),
      MAX_TRIP_KM: "25",
    });
    expect(config.serviceArea).toEqual({
      areas: [jakarta, { shape: "polygon", name: "square", points: square }],
      maxTripKm: 25,
    });
  });

  it("given one area as a JSON object, then it is a list of one", () => {
    const config = loadConfig({
      SERVICE_AREA: '{"name":"bandung","lat":-6.9,"lng":107.6,"radius_km":25}',
    });
    expect(config.serviceArea.areas).toEqual([bandung]);
  });

  it.each([
    ["not JSON", "jakarta"],
    ["an empty list", "[]"],
    ["a circle without a radius", '[{"name":"x","lat":0,"lng":0}]'],
    ["a polygon of two points", '[{"name":"x","polygon":[[0,0],[1,1]]}]'],
    ["a latitude beyond 90", '[{"name":"x","lat":91,"lng":0,"radius_km":5}]'],
    ["an unknown key", '[{"name":"x","lat":0,"lng":0,"radius_km":5,"colour":"red"}]'],
  ])("given %s, then the process refuses to start, naming SERVICE_AREA", (_label, value) => {
    const load = () => loadConfig({ SERVICE_AREA: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/SERVICE_AREA: expected a JSON list of \{name, lat, lng, radius_km\}/);
  });

  it.each(["0", "-5", "ten"])("given MAX_TRIP_KM=%s, then it is refused", (value) => {
    expect(() => loadConfig({ MAX_TRIP_KM: value })).toThrow(/MAX_TRIP_KM/);
  });
});
