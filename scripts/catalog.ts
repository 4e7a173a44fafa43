/** `npm run catalog` prints the event catalog; `-- --json` as JSON (topics, events, groups). */
import { catalogJson } from "../events/describe";

const catalog = catalogJson();
if (process.argv.includes("--json")) {
  console.log(JSON.stringify(catalog, null, 2));
} else {
  for (const topic of catalog.topics) {
    console.log(`${topic.name} (${topic.partitions} partitions, dead letters: ${topic.dlq})`);
    for (const event of catalog.events.filter((e) => e.topic === topic.name)) {
      console.log(
        `  ${event.type.padEnd(30)} ${event.producer.padEnd(22)} → ${event.consumers.join(", ") || "—"}`,
      );
    }
  }
  console.log(`\n${catalog.consumer_groups.length} consumer groups; --json for schemas`);
}
