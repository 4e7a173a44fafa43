import { REQUEUED_LATELY_MS, decide, type Dispatch } from "../../domain/dispatch";
import { givenWhenThen } from "../support/decider";

const AT = new Date("2026-12-01T10:00:00.000Z");
const given = givenWhenThen(decide);

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
  const requeue = { type: "requeue", booking_id: "b1", at: AT } as const;

  it("given one written a moment ago (its escrow, another try), when requeued, then nothing is written", () => {
    given(searching(REQUEUED_LATELY_MS - 1))
      .when(requeue)
      .thenAccepted({ expect: {}, changes: {}, events: [] });
  });

  it.each([REQUEUED_LATELY_MS, 10_000])(
    "given one written %i ms ago (REQUEUED_LATELY_MS or longer), when requeued, then it moves to the back of the queue",
    (ago) => {
      given(searching(ago))
        .when(requeue)
        .thenAccepted({ expect: { status: "searching" }, changes: { updated_at: AT }, events: [] });
    },
  );
});
