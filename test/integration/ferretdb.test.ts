import mongoose, { Schema, type Connection } from "mongoose";
import { ensureIndexes, isFerretDb } from "../../lib/mongo";
import { describeWithInfra, uniqueName } from "../support/infra";

interface Explained {
  filterPushdown?: boolean;
  queryPlanner?: { Plan?: string[] };
}

/**
 * What the persistence code counts on from the MongoDB-compatible server of `npm run infra:up`
 * (FerretDB 1.x on SQLite, built by scripts/infra.sh with scripts/ferretdb-sqlite-id-lookups.patch):
 * lookups by `_id` — alone or with a guard beside it — are answered from the `_id` index, and
 * the guard still decides what matches.
 */
describeWithInfra(["mongo"], "the MongoDB-compatible server", (infra) => {
  let connection: Connection;
  let onFerretDb: boolean;

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(infra.mongo, { dbName: uniqueName("ferretdb"), autoIndex: false })
      .asPromise();
    onFerretDb = await isFerretDb(connection);
  });
  afterAll(async () => {
    await connection?.dropDatabase();
    await connection?.close();
  });

  const explain = async (filter: Record<string, unknown>) =>
    (await connection.db!.command({ explain: { find: "docs", filter } })) as Explained;

  it("finds by _id through the _id index, also with a guard beside _id", async () => {
    if (!onFerretDb) return; // MongoDB plans its own queries; nothing to check there
    const docs = connection.collection<{ _id: string; status: string }>("docs");
    await docs.insertMany(
      Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}`, status: i % 2 ? "odd" : "even" })),
    );
    for (const filter of [{ _id: "d7" }, { _id: "d7", status: "odd" }]) {
      const plan = await explain(filter);
      expect(plan.filterPushdown).toBe(true);
      expect(plan.queryPlanner?.Plan?.join(" ")).toMatch(/USING INDEX \S+__id_/);
    }
    // Anything else is still a scan: the reason hot paths look documents up by _id only.
    expect((await explain({ status: "odd" })).filterPushdown).toBe(false);
  });

  it("still applies the whole filter: a guard that does not hold matches nothing", async () => {
    const docs = connection.collection<{ _id: string; status: string }>("guarded");
    await docs.insertMany([
      { _id: "a", status: "requested" },
      { _id: "b", status: "accepted" },
    ]);
    expect(await docs.findOne({ _id: "a", status: "accepted" })).toBeNull();
    const moved = await docs.updateOne(
      { _id: "a", status: "accepted" },
      { $set: { status: "picked_up" } },
    );
    expect(moved.matchedCount).toBe(0);
    const taken = await docs.findOneAndUpdate(
      { _id: "a", status: "requested" },
      { $set: { status: "accepted" } },
      { returnDocument: "after" },
    );
    expect(taken?.status).toBe("accepted");
    expect(await docs.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: "a", status: "accepted" },
      { _id: "b", status: "accepted" },
    ]);
    const removed = await docs.deleteOne({ _id: "b", status: "requested" });
    expect(removed.deletedCount).toBe(0);
  });

  it("keeps unique indexes everywhere and the others only on MongoDB", async () => {
    const schema = new Schema({
      _id: String,
      number: { type: String, unique: true },
      owner: { type: String, index: true },
    });
    schema.index({ owner: 1, created_at: -1 });
    const model = connection.model("Indexed", schema, "indexed");
    await model.init();
    await ensureIndexes(model, onFerretDb);
    const names = (await model.collection.indexes()).map((index) => index.name).sort();
    expect(names).toEqual(
      onFerretDb
        ? ["_id_", "number_1"]
        : ["_id_", "number_1", "owner_1", "owner_1_created_at_-1"].sort(),
    );
    await expect(
      model.create([
        { _id: "x", number: "N1" },
        { _id: "y", number: "N1" },
      ]),
    ).rejects.toMatchObject({
      code: 11000,
    });
  });
});
