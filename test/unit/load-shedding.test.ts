import { LoadShedder, requestKind, shouldShed } from "../../lib/load-shedding";

describe("requestKind", () => {
  it("given the probes, /metrics and the Stripe webhook, when classified, then they are exempt", () => {
    const urls = [
      "/health",
      "/ready",
      "/ready?all=true",
      "/metrics",
      "/api/webhooks/stripe",
      "/api/webhooks/stripe/",
    ];
    expect(urls.map((url) => requestKind(url))).toEqual(urls.map(() => "exempt"));
  });

  it("given a new Socket.IO session and an open one, when classified, then only the new one is a handshake", () => {
    expect([
      requestKind("/socket.io/?EIO=4&transport=polling"),
      requestKind("/socket.io/?EIO=4&transport=websocket"),
      requestKind("/socket.io/?EIO=4&transport=polling&sid=abc123"),
    ]).toEqual(["handshake", "handshake", "exempt"]);
  });

  it("given the API, the pages and paths that only resemble an exempt one, when classified, then they are counted requests", () => {
    const urls = [
      "/api/bookings",
      "/api/bookings/123/payment",
      "/api/webhooks",
      "/api/webhooks/stripe/extra",
      "/healthz",
      "/health/../api/bookings",
      "/track/abc",
      "/",
    ];
    expect(urls.map((url) => requestKind(url))).toEqual(urls.map(() => "request"));
  });
});

describe("shouldShed", () => {
  it("given a limit of 4, when requests arrive, then they are shed from the limit on", () => {
    expect([2, 3, 4, 5].map((inFlight) => shouldShed("request", inFlight, 4))).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });

  it("given a limit of 4, when new work arrives (a booking, a socket), then it is shed from half the limit on", () => {
    for (const kind of ["entry", "handshake"] as const) {
      expect([0, 1, 2, 3].map((inFlight) => shouldShed(kind, inFlight, 4))).toEqual([
        false,
        false,
        true,
        true,
      ]);
    }
    // A limit of 1 still lets one booking in.
    expect(shouldShed("entry", 0, 1)).toEqual(false);
  });

  it("tells a new booking from the steps of one under way", () => {
    expect(requestKind("/api/bookings", "POST")).toEqual("entry");
    expect(requestKind("/api/bookings/", "POST")).toEqual("entry");
    expect(requestKind("/api/bookings", "GET")).toEqual("request");
    expect(requestKind("/api/bookings/b-1/accept", "POST")).toEqual("request");
  });

  it("given a full gateway, when an exempt request arrives, then it is never shed", () => {
    expect(shouldShed("exempt", 1000, 2)).toEqual(false);
  });

  it("given a limit of 0, when any request arrives, then nothing is shed", () => {
    expect(shouldShed("request", 1_000_000, 0)).toEqual(false);
    expect(shouldShed("handshake", 1_000_000, 0)).toEqual(false);
  });
});

describe("LoadShedder", () => {
  it("given a limit of 2, when three requests arrive at once, then the third is shed and not counted", () => {
    const shedder = new LoadShedder(2);
    expect(["request", "request", "request"].map(() => shedder.admit("request"))).toEqual([
      true,
      true,
      false,
    ]);
    expect(shedder.inFlight).toEqual(2);
  });

  it("given a full gateway, when one request is answered, then the next one goes", () => {
    const shedder = new LoadShedder(1);
    shedder.admit("request");
    expect(shedder.admit("request")).toEqual(false);
    shedder.release();
    expect(shedder.admit("request")).toEqual(true);
    expect(shedder.inFlight).toEqual(1);
  });

  it("given handshakes and exempt requests, when admitted, then they take no place in the count", () => {
    const shedder = new LoadShedder(1);
    expect([shedder.admit("handshake"), shedder.admit("exempt")]).toEqual([true, true]);
    expect(shedder.inFlight).toEqual(0);
    shedder.admit("request");
    expect([shedder.admit("handshake"), shedder.admit("exempt")]).toEqual([false, true]);
  });
});
