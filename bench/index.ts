/** `npm run bench -- <name> [options]`: the benchmarks of bench/, by name. */
const benches: Record<string, () => Promise<unknown>> = {
  lifecycle: () => import("./lifecycle"),
  tracking: () => import("./tracking"),
  store: () => import("./store"),
  compare: () => import("./compare"),
  profiles: () => import("./profiles"),
};

const name = process.argv[2];
const bench = name ? benches[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join("|")}> [options]`);
  process.exit(2);
} else {
  void bench();
}
