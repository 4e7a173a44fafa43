/** Prints a bearer token for local use: `npm run token -- --role owner --sub owner-1 [--ttl 12h]`. */
import { parseArgs } from "node:util";
import { ROLES, signToken, type Role } from "../lib/auth";
import { ConfigError, loadConfig } from "../lib/config";

try {
  const { values } = parseArgs({
    options: {
      role: { type: "string", default: "owner" },
      sub: { type: "string" },
      ttl: { type: "string", default: "12h" },
    },
  });
  const role = values.role as Role;
  if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")}`);
  const sub = values.sub ?? `${role}-1`;
  const config = loadConfig();
  // The gateway checks iss and aud when they are configured: the token carries them then.
  console.log(
    signToken({ sub, role }, config.jwtSecret, values.ttl, {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    }),
  );
} catch (error) {
  console.error(
    error instanceof ConfigError ? error.message : `token: ${(error as Error).message}`,
  );
  process.exit(1);
}
