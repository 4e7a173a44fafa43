/** `npm run docs` writes docs/asyncapi.yaml and docs/events.md from the catalog; `--check` only compares. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderAsyncApi, renderMarkdown } from "../events/describe";

const files = {
  [join(__dirname, "..", "docs", "asyncapi.yaml")]: renderAsyncApi(),
  [join(__dirname, "..", "docs", "events.md")]: renderMarkdown(),
};
const check = process.argv.includes("--check");
let stale = 0;
for (const [file, content] of Object.entries(files)) {
  let current = "";
  try {
    current = readFileSync(file, "utf8");
  } catch {
    // missing counts as stale
  }
  if (current === content) continue;
  stale++;
  if (check) console.error(`${file} is stale: run npm run docs`);
  else writeFileSync(file, content);
}
if (check && stale > 0) process.exit(1);
console.log(check ? "docs are up to date" : `docs written (${stale} changed)`);
