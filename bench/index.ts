/** `npm run bench -- <name> [--database <server>] [options]`: the benchmarks of bench/, by name. */
import { useDatabase } from "./databases";

const benches: Record<string, () => Promise<unknown>> = {
  lifecycle: () => import("./lifecycle"),
  tracking: () => import("./tracking"),
  "photo-store": () => import("./photo-store"),
  store: () => import("./store"),
  compare: () => import("./compare"),
  profiles: () => import("./profiles"),
  knee: () => import("./knee"),
};

// `--database <ferretdb|ferretdb-postgres|mongo-java-server>`: the server the run's services use.
const at = process.argv.indexOf("--database");
if (at > 2) {
  useDatabase(process.argv[at + 1] ?? "");
  process.argv.splice(at, 2);
}

const name = process.argv[2];
const bench = name ? benches[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join("|")}> [options]`);
  process.exit(2);
} else {
  void bench();
}
