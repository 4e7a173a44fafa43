import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The exports `npm run infra:up` wrote to <KILAT_INFRA_DIR or .infra>/env, as a map. */
export function readInfraEnv(root = join(__dirname, "..")): Record<string, string> {
  const file = join(process.env.KILAT_INFRA_DIR ?? join(root, ".infra"), "env");
  try {
    return Object.fromEntries(
      readFileSync(file, "utf8")
        .split("\n")
        .map((line) => /^export (\w+)=(.*)$/.exec(line.trim()))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => [match[1], match[2]]),
    );
  } catch {
    return {};
  }
}
