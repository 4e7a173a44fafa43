import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { renderAsyncApi, renderMarkdown } from "../../events/describe";

const docs = (name: string) => readFileSync(join(__dirname, "..", "..", "docs", name), "utf8");

describe("generated event docs", () => {
  it("docs/asyncapi.yaml matches the catalog (run `npm run docs` when this fails)", () => {
    expect(docs("asyncapi.yaml")).toEqual(renderAsyncApi());
  });

  it("docs/events.md matches the catalog (run `npm run docs` when this fails)", () => {
    expect(docs("events.md")).toEqual(renderMarkdown());
  });

  it("is an AsyncAPI 3.0 document whose references all resolve", () => {
    const document = parse(docs("asyncapi.yaml")) as Record<string, unknown>;
    expect(document.asyncapi).toEqual("3.0.0");
    const refs = [...docs("asyncapi.yaml").matchAll(/\$ref: "?#\/([^"\n]+)"?/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(40);
    for (const ref of refs) {
      const target = ref
        .split("/")
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], document);
      expect([ref, target === undefined]).toEqual([ref, false]);
    }
  });
});
