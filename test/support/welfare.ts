import type {
  BookingEntity,
  NotificationEntity,
  WelfareAlertsEntity,
  WelfareEntity,
} from "../../contracts";
import type { TopicRecord } from "../../adapters/event-bus";
import type { DomainEvent } from "../../events/envelope";
import { makeMove } from "./handover";
import { verifiedRunner } from "./runners";
import type { System } from "./system";
import { heldBooking, trackStarted } from "./trips";

/** Degrees of latitude per metre. */
const M = 1 / 111_195;
export const north = (point: { lat: number; lng: number }, metres: number) => ({
  lat: point.lat + metres * M,
  lng: point.lng,
});
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The environment of a system whose welfare limits are a test's seconds, not minutes. */
export const welfareEnv = (limits: { stopMs: number; silentMs: number; radiusM: number }) => ({
  WELFARE_STOP_MINUTES: String(limits.stopMs / 60_000),
  WELFARE_SILENT_MINUTES: String(limits.silentMs / 60_000),
  WELFARE_STOP_RADIUS_M: String(limits.radiusM),
  LOCATION_RATE_LIMIT: "1000",
});

/**
 * The welfare events of a booking among a topic's records, in order: type and reason. A record
 * published twice (two outbox relays sweeping the same entry: at least once, by design) counts
 * once, as consumers count it; a second alert is another event, with its own id and time.
 */
export function welfareEventsIn(records: TopicRecord[], bookingId: string) {
  const seen = new Set<string>();
  return records
    .filter((record) => !seen.has(record.value) && Boolean(seen.add(record.value)))
    .map((record) => JSON.parse(record.value) as DomainEvent)
    .filter(
      (event) =>
        (event.type === "tracking.stopped" || event.type === "tracking.resumed") &&
        event.data.booking_id === bookingId,
    )
    .map((event) => ({ type: event.type, reason: (event.data as { reason: string }).reason }));
}

/** What the welfare tests do through the public API, as the apps and the operations page do. */
export function welfareApi(system: System) {
  const admin = () => system.token("admin", "welfare-ops");

  const sendFix = async (runner: string, bookingId: string, at: { lat: number; lng: number }) => {
    const sent = await system.api("POST", "/api/runners/me/location", {
      token: runner,
      body: { ...at, booking_id: bookingId, timestamp: new Date().toISOString() },
    });
    expect(sent.status).toBe(202);
  };

  return {
    admin,
    sendFix,

    /** The operations page's list. */
    alerts: async () =>
      (await system.api<WelfareAlertsEntity>("GET", "/api/ops/welfare-alerts", { token: admin() }))
        .body,

    /** The trip page's open alert. */
    welfareOf: async (id: string, token: string) =>
      (
        await system.api<{ welfare: WelfareEntity | null }>("GET", `/api/bookings/${id}/track`, {
          token,
        })
      ).body.welfare,

    /** The event types of a user's notifications about a booking. */
    notesOf: async (token: string, bookingId: string) =>
      (
        await system.api<{ items: NotificationEntity[] }>("GET", "/api/notifications?limit=50", {
          token,
        })
      ).body.items
        .filter((item) => item.booking_id === bookingId)
        .map((item) => item.event_type),

    /** Sends a fix every `everyMs` from where `position()` says, until the returned stop. */
    keepSending(
      runner: string,
      bookingId: string,
      position: () => { lat: number; lng: number },
      everyMs: number,
    ) {
      let sending = true;
      const loop = (async () => {
        while (sending) {
          await sendFix(runner, bookingId, position());
          await sleep(everyMs);
        }
      })();
      return async () => {
        sending = false;
        await loop;
      };
    },

    /** A paid booking from `pickup`, accepted by a fresh verified runner, the pet picked up. */
    async petAboard(name: string, pickup: { lat: number; lng: number }) {
      const owner = system.token("owner", `${name}-owner`);
      const runner = system.token("runner", `${name}-runner`);
      const online = await system.api("POST", "/api/runners/me/online", {
        token: runner,
        body: pickup,
      });
      expect(online.status).toBe(200);
      await verifiedRunner(system, runner);
      const booking = await heldBooking(system, owner, {
        pet_type: "dog",
        pet_name: "Rex",
        pickup,
        dropoff: north(pickup, 3000),
      });
      const id = booking.booking_id;
      const accepted = await system.api<BookingEntity>("POST", `/api/bookings/${id}/accept`, {
        token: runner,
      });
      expect(accepted.status).toBe(200);
      await trackStarted(system, owner, id);
      const picked = await makeMove(system, id, "pickup", { runner, owner });
      expect(picked.status).toBe(200);
      return { id, number: booking.booking_number, owner, runner };
    },
  };
}
