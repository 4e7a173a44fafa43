import { CREATING_ACTIONS, type ACTION_CONTRACTS } from "../../contracts";
import { allServiceSchemas } from "../../services";

const SERVICE_SCHEMAS = allServiceSchemas();

describe("actions that create something", () => {
  it("are the booking and webhook creations, and nothing else (the framework runs the rest again after a node died)", () => {
    expect([...CREATING_ACTIONS].sort()).toEqual([
      "booking.create",
      "booking.petCreate",
      "booking.shareCreate",
      "notification.webhookCreate",
    ]);
  });

  it("name actions their services really have", () => {
    for (const name of CREATING_ACTIONS) {
      const [service, action] = name.split(".");
      const schema = SERVICE_SCHEMAS[service as keyof typeof ACTION_CONTRACTS];
      expect([name, Object.keys(schema.actions ?? {}).includes(action)]).toEqual([name, true]);
    }
  });
});
