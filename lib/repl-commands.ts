import type { ServiceBroker } from "moleculer";

/** The REPL acts as an operator: an admin identity, so role-checked actions answer. */
const OPERATOR = { meta: { user: { sub: "repl-operator", role: "admin" } } };

type Params = Record<string, unknown> & { options?: Record<string, unknown> };

interface ReplCommand {
  command: string;
  description: string;
  options?: { option: string; description: string }[];
  action(broker: ServiceBroker, params: Params): Promise<void>;
}

const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));

/** Calls an action; a missing service or a refusal is part of the answer, not a crash. */
async function attempt<T>(run: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await run();
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Services whose outboxes the `outbox` command asks (each hosts the `pendingEvents` action). */
const OUTBOX_SERVICES = ["booking", "payment", "runner", "tracking"];

/**
 * Operations through the Moleculer REPL (`npm run repl`, `npm run dev`): see a booking whole,
 * inspect and replay dead letters, see who is online and what is waiting in the outboxes.
 */
export const REPL_COMMANDS: ReplCommand[] = [
  {
    command: "booking <id>",
    description:
      "A booking (by id or KLT- number) with its payment, track, notifications and unsent events",
    async action(broker, params) {
      const booking = await attempt(() =>
        broker.call<{ booking_id: string; owner_id: string }, { id: string }>(
          "booking.get",
          { id: String(params.id) },
          OPERATOR,
        ),
      );
      if ("error" in booking) return print(booking);
      const id = booking.booking_id;
      const [payment, track, notifications, ...outboxes] = await Promise.all([
        attempt(() => broker.call("payment.get", { id }, OPERATOR)),
        attempt(() => broker.call("tracking.get", { id, limit: 5 }, OPERATOR)),
        attempt(() => broker.call("notification.forBooking", { booking_id: id }, OPERATOR)),
        ...OUTBOX_SERVICES.map((service) =>
          attempt(() => broker.call<unknown[]>(`${service}.pendingEvents`)),
        ),
      ]);
      const unsent = outboxes
        .flatMap((list) => (Array.isArray(list) ? list : []))
        .filter((entry) => (entry as { aggregate_id: string }).aggregate_id.includes(id));
      print({ booking, payment, track, notifications, unsent_events: unsent });
    },
  },
  {
    command: "dlq <verb> [topic] [offset]",
    description:
      "Dead letters: `dlq list [topic]`, `dlq show <topic> <partition>:<offset>`, `dlq replay <topic> [<partition>:<offset>] [--all]`",
    options: [{ option: "--all", description: "replay every dead letter of the topic" }],
    async action(broker, params) {
      const text = (value: unknown) => (typeof value === "string" ? value : undefined);
      const topic = text(params.topic);
      const offset = text(params.offset);
      switch (params.verb) {
        case "list":
          return print(
            await attempt(() => broker.call("api.dlqList", topic ? { topic } : {}, OPERATOR)),
          );
        case "show":
          return print(
            await attempt(() => broker.call("api.dlqShow", { topic, offset }, OPERATOR)),
          );
        case "replay":
          return print(
            await attempt(() =>
              broker.call(
                "api.dlqReplay",
                {
                  topic,
                  ...(offset !== undefined ? { offset } : {}),
                  all: params.options?.all === true,
                },
                OPERATOR,
              ),
            ),
          );
        default:
          return print({ error: "dlq list | show | replay" });
      }
    },
  },
  {
    command: "runners <what>",
    description: "`runners online`: who is online or busy, where, with which booking",
    async action(broker, params) {
      if (params.what !== "online") return print({ error: "runners online" });
      print(await attempt(() => broker.call("runner.listOnline", {}, OPERATOR)));
    },
  },
  {
    command: "outbox",
    description: "Events written but not yet published, per service, with their age in seconds",
    async action(broker) {
      const lists = await Promise.all(
        OUTBOX_SERVICES.map(async (service) => ({
          service,
          pending: await attempt(() => broker.call(`${service}.pendingEvents`)),
        })),
      );
      print(lists);
    },
  },
];
