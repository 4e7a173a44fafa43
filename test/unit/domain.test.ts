import { bookingNumber } from "../../domain/booking-number";
import { distanceKm } from "../../domain/geo";
import { DEFAULT_PRICING, estimatePrice, pricingPolicy } from "../../domain/pricing";

describe("distanceKm (haversine)", () => {
  it("given the same point, is zero", () => {
    expect(distanceKm({ lat: -6.2, lng: 106.8 }, { lat: -6.2, lng: 106.8 })).toEqual(0);
  });
  it("given Monas to Bundaran HI (Jakarta), is about 2.2 km", () => {
    expect(
      distanceKm({ lat: -6.1754, lng: 106.8272 }, { lat: -6.1951, lng: 106.8231 }),
    ).toBeCloseTo(2.237, 2);
  });
  it("given one degree of latitude, is about 111.2 km", () => {
    expect(distanceKm({ lat: 0, lng: 0 }, { lat: 1, lng: 0 })).toBeCloseTo(111.195, 2);
  });
});

describe("estimatePrice", () => {
  it("given a dog over 10 km, charges base + 10 × per-km + the dog surcharge", () => {
    const pickup = { lat: 0, lng: 0 };
    const dropoff = { lat: 10 / 111.19508, lng: 0 }; // 10.000 km north
    expect(estimatePrice(pickup, dropoff, "dog")).toEqual({
      distanceKm: 10,
      amountCents:
        DEFAULT_PRICING.baseFareCents +
        10 * DEFAULT_PRICING.perKmCents +
        DEFAULT_PRICING.surchargeCents.dog,
      currency: "IDR",
    });
  });
  it("given a custom policy, uses its rates and currency, in integer minor units", () => {
    const policy = {
      currency: "SGD",
      baseFareCents: 500,
      perKmCents: 133,
      surchargeCents: { dog: 200, cat: 100, bird: 50, rabbit: 50, other: 150 },
    };
    const price = estimatePrice(
      { lat: 1.3, lng: 103.8 },
      { lat: 1.35, lng: 103.85 },
      "cat",
      policy,
    );
    expect(price.currency).toEqual("SGD");
    expect(Number.isInteger(price.amountCents)).toEqual(true);
    expect(price.amountCents).toEqual(
      500 +
        Math.round(distanceKm({ lat: 1.3, lng: 103.8 }, { lat: 1.35, lng: 103.85 }) * 133) +
        100,
    );
  });
});

describe("pricingPolicy", () => {
  it("given configured surcharges, keeps the defaults for the pets left out", () => {
    expect(
      pricingPolicy({
        currency: "IDR",
        baseFareCents: 1,
        perKmCents: 2,
        surchargeCents: { cat: 3 },
      }).surchargeCents,
    ).toEqual({ ...DEFAULT_PRICING.surchargeCents, cat: 3 });
  });
});

describe("bookingNumber", () => {
  it("given a day and random bytes, is KLT-<yyyymmdd>-<6 unambiguous symbols>", () => {
    const bytes = Uint8Array.from([0, 1, 31, 32, 255, 10]);
    expect(bookingNumber(new Date("2026-11-26T23:59:00Z"), () => bytes)).toEqual(
      "KLT-20261126-01Z0ZA",
    );
  });
  it("never uses I, L, O or U", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    let symbols = "";
    for (let i = 0; i < 256; i += 6)
      symbols += bookingNumber(new Date(), () => all.slice(i, i + 6)).slice(13);
    expect(symbols).not.toMatch(/[ILOU]/);
  });
});
