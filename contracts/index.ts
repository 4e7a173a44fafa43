import { BOOKING_ACTIONS, MOVE_ACTIONS, PUBLIC_MOVES } from "./booking";
import { DISPUTE_ACTIONS } from "./dispute";
import { HANDOVER_ACTIONS } from "./handover";
import { NO_SHOW_ACTIONS } from "./no-show";
import { NOTIFICATION_ACTIONS } from "./notification";
import { PAYMENT_ACTIONS } from "./payment";
import { PET_ACTIONS } from "./pet";
import { BOOKING_PHOTO_ACTIONS } from "./photo";
import { RATING_ACTIONS } from "./rating";
import { RUNNER_ACTIONS } from "./runner";
import { TRACKING_ACTIONS } from "./tracking";
import type { ActionContract } from "./action";

/**
 * What services share: each one's action contracts (who may call it, what it takes), the
 * entities they answer with, and the live events for the gateways. Services import these,
 * never each other.
 */
export * from "./action";
export * from "./booking";
export * from "./common";
export * from "./dispute";
export * from "./handover";
export * from "./live";
export * from "./no-show";
export * from "./notification";
export * from "./payment";
export * from "./pet";
export * from "./photo";
export * from "./rating";
export * from "./runner";
export * from "./tracking";

/** Every service's contracts, by service name: what the gateway documents (OpenAPI). */
export const ACTION_CONTRACTS = {
  booking: {
    ...BOOKING_ACTIONS,
    ...HANDOVER_ACTIONS,
    ...PET_ACTIONS,
    ...BOOKING_PHOTO_ACTIONS,
    ...DISPUTE_ACTIONS,
    ...NO_SHOW_ACTIONS,
    ...RATING_ACTIONS,
    ...Object.fromEntries(PUBLIC_MOVES.map((move) => [move, MOVE_ACTIONS[move]])),
  },
  payment: PAYMENT_ACTIONS,
  runner: RUNNER_ACTIONS,
  tracking: TRACKING_ACTIONS,
  notification: NOTIFICATION_ACTIONS,
};

/** Actions that make something new each time they run (`creates`), by full name. */
export const CREATING_ACTIONS: ReadonlySet<string> = new Set(
  Object.entries(ACTION_CONTRACTS).flatMap(([service, table]) =>
    Object.entries(table as Record<string, ActionContract>)
      .filter(([, contract]) => contract.creates)
      .map(([name]) => `${service}.${name}`),
  ),
);
