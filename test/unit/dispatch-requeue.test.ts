import { REQUEUED_LATELY_MS, decide, type Dispatch } from "../../domain/dispatch";

const AT = new Date("2026-12-01T10:00:00.000Z");

const searching = (updatedMsAgo: number): Dispatch => ({
  _id: "b1",
  pickup: { lat: -6.2, lng: 106.8 },
  escrow_held: true,
  status: "searching",
  runner_id: null,
  offer_expires_at: null,
  tried: [],
  created_at: new Date(AT.getTime() - 60_000),
  updated_at: new Date(AT.getTime() - updatedMsAgo),
});

describe("requeue of a searching dispatch", () => {
  it("given one written a moment ago (its escrow, another try), when requeued, then nothing is written", () => {
    expect(
      decide(searching(REQUEUED_LATELY_MS - 1), { type: "requeue", booking_id: "b1", at: AT }),
    ).toEqual({ ok: true, expect: {}, changes: {}, events: [] });
  });

  it("given one written REQUEUED_LATELY_MS ago or longer, when requeued, then it moves to the back of the queue", () => {
    for (const ago of [REQUEUED_LATELY_MS, 10_000]) {
      expect(decide(searching(ago), { type: "requeue", booking_id: "b1", at: AT })).toEqual({
        ok: true,
        expect: { status: "searching" },
        changes: { updated_at: AT },
        events: [],
      });
    }
  });
});
