import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The project's root: the nearest folder above this file whose package.json is Kilat's — the
 * repository when run from sources, /app in the Docker image (dist/ beside package.json).
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "kilat"
    ) {
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no Kilat package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(__dirname);
