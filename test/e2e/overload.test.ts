import type { BookingEntity } from "../../contracts";
import { ENTRY_SHARE } from "../../lib/load-shedding";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";

const trip = {
  pet_type: "dog",
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.25, lng: 106.85 },
};

/** How many bookings the flood asks for at once: ten times what the gateway takes. */
const FLOOD = 40;
const MAX_IN_FLIGHT = 4;

interface Answer {
  name: string;
  status: number;
  ms: number;
  retryAfter: string | null;
  body: { type?: string; code?: number; name?: string; booking_id?: string };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Under overload the gateway sheds (503 with Retry-After) instead of queueing. */
describeWithInfra(["mongo"], "overload: the gateway sheds, embedded", (infra) => {
  let system: System;
  let owner: string;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: {
        API_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
        // The flood is one client and one token: the per-client limits are not what this tests.
        RATE_LIMIT_PER_TOKEN: "100000",
        RATE_LIMIT_PER_IP: "100000",
      },
    });
    owner = system.token("owner", "overload-owner");
  });
  afterAll(async () => {
    await system?.stop();
  });

  const create = async (name: string): Promise<Answer> => {
    const started = performance.now();
    const response = await system.api<Answer["body"]>("POST", "/api/bookings", {
      token: owner,
      body: { ...trip, pet_name: name },
    });
    return {
      name,
      status: response.status,
      ms: performance.now() - started,
      retryAfter: response.headers.get("retry-after"),
      body: response.body,
    };
  };

  it("answers a flood beyond API_MAX_IN_FLIGHT with quick 503s that did nothing, keeps the probes up, and recovers", async () => {
    // Connections opened first (by exempt probes), so the flood's requests arrive together
    // rather than one connection setup apart.
    await Promise.all(Array.from({ length: FLOOD }, () => system.api("GET", "/health")));
    const underWay = await create("Under way");
    expect(underWay.status).toEqual(201);
    // The probes are asked as soon as the first request is shed, while the flood is still on,
    // and so is the booking under way: new bookings are shed first, its steps still go through.
    let probes: Promise<number[]> | undefined;
    let step: Promise<number> | undefined;
    const answers = await Promise.all(
      Array.from({ length: FLOOD }, async (_, i) => {
        const answer = await create(`Flood ${i}`);
        if (answer.status === 503) {
          step ??= system
            .api("GET", `/api/bookings/${String(underWay.body.booking_id)}`, { token: owner })
            .then((response) => response.status);
          probes ??= Promise.all(
            ["/health", "/ready", "/metrics"].map(
              async (path) =>
                (await system.api("GET", path, { token: system.token("admin", "ops") })).status,
            ),
          );
        }
        return answer;
      }),
    );
    const shed = answers.filter((answer) => answer.status === 503);
    const created = answers.filter((answer) => answer.status === 201);

    // Every answer is a booking or a shed request, and there are both.
    expect([...new Set(answers.map((answer) => answer.status))].sort()).toEqual([201, 503]);
    expect(shed.length + created.length).toEqual(FLOOD);
    for (const answer of shed) {
      expect(answer.retryAfter).toEqual("1");
      expect(answer.body).toEqual({
        name: "ServiceUnavailable",
        message: "The server is overloaded: retry after the Retry-After seconds",
        code: 503,
        type: "OVERLOADED",
      });
    }
    // Shed at the door: answered before the admitted ones, which each wrote a booking.
    expect(median(shed.map((answer) => answer.ms))).toBeLessThan(
      median(created.map((answer) => answer.ms)),
    );
    expect(await probes).toEqual([200, 200, 200]);
    expect(await step).toEqual(200);

    // A shed request changed nothing: the owner has exactly the bookings answered 201.
    const list = await system.api<{ items: BookingEntity[] }>("GET", "/api/bookings?limit=100", {
      token: owner,
    });
    expect(list.body.items.map((booking) => booking.pet_name).sort()).toEqual(
      [underWay, ...created].map((answer) => answer.name).sort(),
    );

    // Each shed request is counted, by kind.
    const metrics = await system.api<string>("GET", "/metrics", {
      token: system.token("admin", "ops"),
    });
    const counted = /^kilat_http_shed_total\{.*kind="entry"\} (\d+)$/m.exec(metrics.body);
    expect(Number(counted?.[1])).toEqual(shed.length);

    // The flood over, new bookings within their share of the limit are all answered again.
    const after = await Promise.all(
      Array.from({ length: MAX_IN_FLIGHT * ENTRY_SHARE }, (_, i) => create(`After ${i}`)),
    );
    expect(after.map((answer) => answer.status)).toEqual(after.map(() => 201));
    expect((await system.api("GET", "/api/bookings?limit=1", { token: owner })).status).toEqual(
      200,
    );
  });
});
