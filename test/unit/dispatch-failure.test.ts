import {
  DISPATCH_STATUSES,
  decide,
  type Dispatch,
  type DispatchStatus,
} from "../../domain/dispatch";
import { MAX_LATITUDE, isMappable } from "../../domain/geo";
import { givenWhenThen } from "../support/decider";

const AT = new Date("2026-12-01T10:00:00.000Z");
const EARLIER = new Date("2026-12-01T09:00:00.000Z");
const POLAR = { lat: 89.9, lng: 0 };
const on = { booking_id: "b1", at: AT };
const given = givenWhenThen(decide);

const stored = (status: DispatchStatus, extra: Partial<Dispatch> = {}): Dispatch => ({
  _id: "b1",
  pickup: POLAR,
  escrow_held: true,
  status,
  runner_id: null,
  offer_expires_at: null,
  tried: [],
  created_at: EARLIER,
  updated_at: EARLIER,
  ...extra,
});

describe("isMappable", () => {
  it.each([
    [{ lat: -6.2, lng: 106.8 }, true],
    [{ lat: MAX_LATITUDE, lng: 180 }, true],
    [{ lat: -MAX_LATITUDE, lng: -180 }, true],
    [{ lat: 85.06, lng: 0 }, false],
    [{ lat: -89.9, lng: 0 }, false],
    [{ lat: 0, lng: 180.5 }, false],
    [{ lat: NaN, lng: 0 }, false],
  ])("given %j, then the geo index can hold it: %s", (position, mappable) => {
    expect(isMappable(position)).toBe(mappable);
  });
});

describe("dispatch of a pickup the geo index cannot hold", () => {
  it("given the escrow held, when a polar pickup becomes known, then the dispatch fails instead of searching", () => {
    given(stored("waiting", { pickup: null }))
      .when({ ...on, type: "pickup_known", pickup: POLAR, booking_number: "KLT-1", owner_id: "o1" })
      .thenAccepted({
        expect: { status: "waiting", escrow_held: true, pickup: null },
        changes: {
          pickup: POLAR,
          booking_number: "KLT-1",
          owner_id: "o1",
          status: "failed",
          updated_at: AT,
        },
        events: [],
      });
  });

  it("given a polar pickup known, when the escrow is held, then the dispatch fails", () => {
    given(stored("waiting", { escrow_held: false }))
      .when({ ...on, type: "escrow_held" })
      .thenAccepted({
        expect: { status: "waiting", escrow_held: false },
        changes: { escrow_held: true, status: "failed", updated_at: AT },
        events: [],
      });
  });

  it("given a searching dispatch, when it fails, then it is recorded as failed, guarded on searching", () => {
    given(stored("searching"))
      .when({ ...on, type: "fail" })
      .thenAccepted({
        expect: { status: "searching" },
        changes: { status: "failed", updated_at: AT },
        events: [],
      });
  });

  it.each(DISPATCH_STATUSES.filter((status) => status !== "searching"))(
    "given a %s dispatch, when it fails, then that is refused",
    (status) => {
      given(stored(status))
        .when({ ...on, type: "fail" })
        .thenRefused();
    },
  );

  describe("given a failed dispatch", () => {
    const failed = stored("failed");

    it("when offered, then it is refused: it is never offered", () => {
      given(failed)
        .when({ ...on, type: "offer", runner_id: "r1", expires_at: AT })
        .thenRefused();
    });

    it("when requeued, then it is refused: it is never searched again", () => {
      given(failed)
        .when({ ...on, type: "requeue" })
        .thenRefused();
    });

    it("when cancelled, then the cancellation still lands", () => {
      const { changes } = given(failed)
        .when({ ...on, type: "cancelled" })
        .thenAccepted();
      expect(changes.status).toBe("cancelled");
    });
  });
});
