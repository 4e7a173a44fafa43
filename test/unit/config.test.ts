import { ConfigError, DEFAULT_JWT_SECRET, loadConfig, SERVICE_NAMES } from "../../lib/config";

describe("loadConfig", () => {
  it("given no variables, runs everything embedded", () => {
    const config = loadConfig({});
    expect(config).toEqual(
      expect.objectContaining({
        env: "development",
        port: 3000,
        services: [...SERVICE_NAMES],
        transporter: undefined,
        mongoUrl: undefined,
        dataDir: undefined,
        embeddedDb: "auto",
        kafkaBrokers: undefined,
        redisUrl: undefined,
        jwtSecret: DEFAULT_JWT_SECRET,
        mongoDbPrefix: "kilat",
        kafkaTopicPrefix: "",
      }),
    );
  });

  it("given the infra exports, switches each port to its real component", () => {
    const config = loadConfig({
      TRANSPORTER: "redis://127.0.0.1:6379",
      REDIS_URL: "redis://127.0.0.1:6379",
      KAFKA_BROKERS: "127.0.0.1:9092, 127.0.0.2:9092",
      MONGO_URL: "mongodb://127.0.0.1:27017",
      STRIPE_SECRET_KEY: "sk_test_123",
      STRIPE_API_BASE: "http://127.0.0.1:12111",
      SERVICES: "api,booking",
      PORT: "8080",
    });
    expect(config.kafkaBrokers).toEqual(["127.0.0.1:9092", "127.0.0.2:9092"]);
    expect(config.services).toEqual(["api", "booking"]);
    expect(config.port).toEqual(8080);
    expect(config.stripe).toEqual({
      secretKey: "sk_test_123",
      apiBase: "http://127.0.0.1:12111",
      webhookSecret: "whsec_kilat_dev_only",
    });
  });

  it("treats blank variables as unset", () => {
    expect(loadConfig({ KAFKA_BROKERS: "", MONGO_URL: "  " }).kafkaBrokers).toEqual(undefined);
  });

  it.each([
    [{ PORT: "eighty" }, "PORT: expected a TCP port number"],
    [{ PORT: "70000" }, "PORT: expected a TCP port number (0-65535)"],
    [{ KAFKA_BROKERS: "localhost" }, "KAFKA_BROKERS: expected host:port[,host:port…]"],
    [{ MONGO_URL: "http://x" }, "MONGO_URL: expected a mongodb: or mongodb+srv: URL"],
    [{ TRANSPORTER: "nats://x:4222" }, "TRANSPORTER: expected a redis: or rediss: URL"],
    [{ SERVICES: "api,billing" }, "SERVICES: unknown service billing"],
    [{ STRIPE_SECRET_KEY: "pk_test_1" }, "STRIPE_SECRET_KEY: expected a Stripe secret key"],
    [{ JWT_SECRET: "short" }, "JWT_SECRET: expected at least 16 characters"],
  ])("given %j, fails with a message naming the variable", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("reads pricing in minor units, with per-pet surcharges", () => {
    const config = loadConfig({
      CURRENCY: "SGD",
      PRICE_BASE_FARE_CENTS: "500",
      PRICE_PER_KM_CENTS: "120",
      PRICE_SURCHARGES_CENTS: "dog=300, rabbit=50",
    });
    expect(config.pricing).toEqual({
      currency: "SGD",
      baseFareCents: 500,
      perKmCents: 120,
      surchargeCents: { dog: 300, rabbit: 50 },
      extraPetCents: 500_000,
      weightSurcharges: [
        { overKg: 10, cents: 500_000 },
        { overKg: 25, cents: 1_000_000 },
      ],
    });
    expect(() => loadConfig({ PRICE_SURCHARGES_CENTS: "dragon=5" })).toThrow(
      'PRICE_SURCHARGES_CENTS: expected pet=amount pairs such as dog=1000000 (got "dragon=5")',
    );
  });

  it("refuses a subset of services without a transporter and Kafka to reach the others", () => {
    expect(() => loadConfig({ SERVICES: "booking" })).toThrow(
      "SERVICES: a subset of the services needs TRANSPORTER",
    );
    expect(() =>
      loadConfig({ SERVICES: "booking", TRANSPORTER: "redis://127.0.0.1:6379" }),
    ).toThrow("SERVICES: a subset of the services needs KAFKA_BROKERS");
  });

  it("in production refuses the development secrets", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(
      "JWT_SECRET: the development default is set; NODE_ENV=production needs a real secret",
    );
    const config = loadConfig({
      NODE_ENV: "production",
      JWT_SECRET: "a-real-secret-of-32-characters!!",
      STRIPE_WEBHOOK_SECRET: "whsec_q3V8pXk2Lr9TmWc4Zs7Yb1Nd6Hf0Jg5E",
    });
    expect(config.env).toEqual("production");
  });

  it("in production refuses weak secrets, saying the rule and never the value", () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig({ NODE_ENV: "production", ...env });
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    };
    const strong = "q3V8pXk2Lr9TmWc4Zs7Yb1Nd6Hf0Jg5E";
    const rule =
      "NODE_ENV=production needs at least 32 characters, at least 12 of them different (e.g. `openssl rand -base64 32`)";
    expect(attempt({ JWT_SECRET: "MyRealSecret123", STRIPE_WEBHOOK_SECRET: strong })).toEqual([
      "JWT_SECRET: expected at least 16 characters (value hidden, 15 characters)",
    ]);
    expect(
      attempt({
        JWT_SECRET: "a".repeat(16),
        STRIPE_WEBHOOK_SECRET: "whsec_short",
        METRICS_TOKEN: "b".repeat(40),
      }),
    ).toEqual([
      `JWT_SECRET: too short (16 characters); ${rule}`,
      `STRIPE_WEBHOOK_SECRET: too short (11 characters); ${rule}`,
      `METRICS_TOKEN: too repetitive (1 different characters); ${rule}`,
    ]);
    expect(attempt({ JWT_SECRET: strong, STRIPE_WEBHOOK_SECRET: `whsec_${strong}` })).toEqual([]);
  });

  it("reads token, socket and proxy limits, with their defaults", () => {
    expect(loadConfig({})).toEqual(
      expect.objectContaining({
        jwt: { maxTtlMs: 24 * 3600_000, issuer: undefined, audience: undefined },
        metricsToken: undefined,
        sockets: { maxPerUser: 10, maxRooms: 50, eventsPerSec: 20 },
        http: expect.objectContaining({ trustedProxies: [] }) as unknown,
      }),
    );
    const config = loadConfig({
      JWT_MAX_TTL: "2h",
      JWT_ISSUER: "kilat",
      JWT_AUDIENCE: "kilat-app",
      SOCKET_MAX_PER_USER: "3",
      SOCKET_MAX_ROOMS: "7",
      SOCKET_EVENTS_PER_SEC: "5",
      TRUSTED_PROXIES: "10.0.0.0/8, ::1",
    });
    expect([config.jwt, config.sockets, config.http.trustedProxies]).toEqual([
      { maxTtlMs: 2 * 3600_000, issuer: "kilat", audience: "kilat-app" },
      { maxPerUser: 3, maxRooms: 7, eventsPerSec: 5 },
      ["10.0.0.0/8", "::1"],
    ]);
    expect(() => loadConfig({ JWT_MAX_TTL: "90d" })).toThrow(
      'JWT_MAX_TTL: expected between 1m and 30d (got "90d")',
    );
    expect(() => loadConfig({ TRUSTED_PROXIES: "10.0.0.0/8,proxy.local" })).toThrow(
      "TRUSTED_PROXIES: expected addresses or CIDR ranges such as 10.0.0.0/8,::1 (not an address or CIDR: proxy.local)",
    );
  });
});
