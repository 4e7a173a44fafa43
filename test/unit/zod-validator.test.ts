import { Errors, ServiceBroker, type Service } from "moleculer";
import { z } from "zod";
import { actionsOf } from "../../lib/action";
import { ZodValidator } from "../../lib/zod-validator";
import { errorBody } from "../../services/api/errors";

const action = actionsOf<Service>();
const Params = z
  .object({
    name: z.string().min(1),
    where: z.object({ lat: z.number().min(-90).max(90) }),
    limit: z.coerce.number().int().max(100).default(20),
  })
  .strict();

describe("ZodValidator", () => {
  const broker = new ServiceBroker({ logger: false, validator: new ZodValidator() });
  broker.createService({
    name: "probe",
    // a mixin makes Moleculer deep-clone the action definitions: the schema must survive it
    mixins: [{ name: "base" }],
    actions: { echo: action({ params: Params }, async (ctx) => ctx.params) },
  });
  beforeAll(() => broker.start());
  afterAll(() => broker.stop());

  it("given valid params, hands the handler the parsed value (coerced, defaults applied)", async () => {
    await expect(
      broker.call("probe.echo", { name: "Rex", where: { lat: 1 }, limit: "5" }),
    ).resolves.toEqual({
      name: "Rex",
      where: { lat: 1 },
      limit: 5,
    });
    await expect(broker.call("probe.echo", { name: "Rex", where: { lat: 1 } })).resolves.toEqual({
      name: "Rex",
      where: { lat: 1 },
      limit: 20,
    });
  });

  it("given bad params, fails with a 422 whose data names each field", async () => {
    const error = await broker
      .call("probe.echo", { name: "", where: { lat: 91 }, extra: true })
      .catch((e: unknown) => e as Errors.ValidationError);
    expect(error).toBeInstanceOf(Errors.ValidationError);
    expect((error as Errors.ValidationError).code).toEqual(422);
    expect((error as Errors.ValidationError).data).toEqual([
      {
        field: "name",
        message: "Too small: expected string to have >=1 characters",
        type: "too_small",
      },
      { field: "where.lat", message: "Too big: expected number to be <=90", type: "too_big" },
      { field: "(body)", message: 'Unrecognized key: "extra"', type: "unrecognized_keys" },
    ]);
  });
});

describe("errorBody (the one error shape of the API)", () => {
  it("passes a client error through with its name, message, type and data", () => {
    const error = new Errors.ValidationError(
      "Invalid request: name: required",
      "VALIDATION_ERROR",
      [{ field: "name" }],
    );
    expect(errorBody(error)).toEqual({
      status: 422,
      body: {
        name: "ValidationError",
        message: "Invalid request: name: required",
        code: 422,
        type: "VALIDATION_ERROR",
        data: [{ field: "name" }],
      },
    });
  });

  it("hides the details of a server error", () => {
    const error = new Error("connection 3 to 10.0.0.5:27017 closed at Collection.find");
    expect(errorBody(error)).toEqual({
      status: 500,
      body: {
        name: "ServerError",
        message: "Internal server error",
        code: 500,
        type: "SERVER_ERROR",
      },
    });
    const unavailable = new Errors.ServiceNotAvailableError({
      action: "booking.create",
      nodeID: "n1",
    });
    expect(errorBody(unavailable).body).toEqual({
      name: "ServerError",
      message: "Service temporarily unavailable",
      code: 503,
      type: "SERVER_ERROR",
    });
  });

  it("answers a full bulkhead queue with 429 and no internal names", () => {
    const full = new Errors.QueueIsFullError({ action: "booking.create", nodeID: "n1" });
    expect(errorBody(full)).toEqual({
      status: 429,
      body: {
        name: "TooManyRequests",
        message: "Too many requests, retry later",
        code: 429,
        type: "RATE_LIMITED",
      },
    });
  });

  it("names malformed JSON and oversized bodies", () => {
    expect(
      errorBody(
        Object.assign(new Error("Unexpected token"), { status: 400, type: "entity.parse.failed" }),
      ).body,
    ).toEqual({
      name: "BadRequest",
      message: "Malformed JSON body",
      code: 400,
      type: "INVALID_JSON",
    });
    expect(
      errorBody(Object.assign(new Error("too large"), { status: 413, type: "entity.too.large" }))
        .status,
    ).toEqual(413);
  });
});
