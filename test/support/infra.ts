import { readInfraEnv } from "../../scripts/infra-env";

/**
 * Addresses of the real servers the integration and e2e tests use: taken from the environment,
 * else from the env file `npm run infra:up` writes, so `npm test` needs no `eval`.
 */
export interface Infra {
  kafka?: string;
  mongo?: string;
  redis?: string;
  stripe?: string;
  /** The browser the pages' tests drive (Debian's chromium, installed by infra:up). */
  chromium?: string;
}

const fromFile = readInfraEnv();
const read = (name: string): string | undefined => process.env[name] || fromFile[name] || undefined;

export const infra: Infra = {
  kafka: read("KAFKA_BROKERS"),
  mongo: read("MONGO_URL"),
  redis: read("REDIS_URL"),
  stripe: read("STRIPE_MOCK_URL"),
  chromium: read("CHROMIUM_PATH"),
};

/**
 * `describe` for tests that need real servers. Without them the suite is skipped with the
 * reason — except under CI=true, where missing infrastructure is a failure, not a skip.
 */
export function describeWithInfra(
  needs: (keyof Infra)[],
  name: string,
  body: (infra: Required<Infra>) => void,
): void {
  const missing = needs.filter((need) => !infra[need]);
  if (missing.length === 0) {
    describe(name, () => body(infra as Required<Infra>));
    return;
  }
  const reason = `needs ${missing.join(", ")}: run \`npm run infra:up\``;
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has its infrastructure (CI=true: an integration test may not skip)", () => {
        throw new Error(`missing infrastructure: ${reason}`);
      });
    });
    return;
  }
  describe.skip(`${name} (skipped: ${reason})`, () => body(infra as Required<Infra>));
}

/** A name no other test run uses: for topic prefixes, databases and groups. */
export function uniqueName(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
