import { createGeoIndex, MemoryGeoIndex } from "../../adapters/geo-index";
import { geoIndexContract } from "../contract/geo-index.contract";

describe("geo index contract: in-process adapter", () => {
  geoIndexContract(async (staleAfterMs) => new MemoryGeoIndex({ staleAfterMs }));
});

describe("createGeoIndex without a Redis URL", () => {
  it("gives the in-process index", async () => {
    const { index, close } = createGeoIndex({ key: "kilat:runners", staleAfterMs: 60_000 });
    expect(index.kind).toBe("memory");
    await index.upsert("runner-1", { lat: -6.2, lng: 106.8 });
    expect(await index.size()).toBe(1);
    await close();
  });
});
