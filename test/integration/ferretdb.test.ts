import mongoose, { Schema, type Connection } from "mongoose";
import { ensureIndexes, isFerretDb } from "../../lib/mongo";
import { describeWithInfra, uniqueName } from "../support/infra";

interface Explained {
  filterPushdown?: boolean;
  queryPlanner?: { Plan?: string[] };
}

/**
 * What the persistence code counts on from the MongoDB-compatible server of `npm run infra:up`
 * (FerretDB 1.x on SQLite, built by scripts/infra.sh with scripts/ferretdb-sqlite-id-lookups.patch
 * and scripts/ferretdb-atomic-writes.patch): lookups by `_id` — alone or with a guard beside it —
 * are answered from the `_id` index, the guard still decides what matches, and a write to one
 * document is atomic however many connections write it at once.
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

  describe("single-document writes from several connections at once", () => {
    // A write is lost only when two requests overlap on the server. A document that takes a
    // moment to read and decode (this ballast: a few ms on FerretDB) widens that window, so
    // that a server without atomic single-document writes fails these tests on every run.
    const ballast = Array.from({ length: 500 }, (_, i) => ({ i }));
    const withoutBallast = { projection: { ballast: 0 } };
    // Five clients of ten connections each: the replicas of a service, each with its own pool.
    let clients: Connection[] = [];
    const client = (i: number) => clients[i % clients.length];

    beforeAll(async () => {
      clients = await Promise.all(
        Array.from({ length: 5 }, () =>
          mongoose
            .createConnection(infra.mongo, {
              dbName: connection.name,
              autoIndex: false,
              // Overrides the maxPoolSize=1 of the exported MONGO_URL: this is about many at once.
              maxPoolSize: 10,
            })
            .asPromise(),
        ),
      );
      // The pools open their connections now, so that the writes below reach the server together.
      await connection.collection<{ _id: string }>("warm").insertOne({ _id: "w" });
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          client(i).collection<{ _id: string }>("warm").findOne({ _id: "w" }),
        ),
      );
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
    });

    it("keeps every one of 50 concurrent $push to one document", async () => {
      type Bag = { _id: string; items: number[] };
      const bags = (i = 0) => client(i).collection<Bag>("bags");
      for (const round of [1, 2, 3]) {
        const _id = `bag${round}`;
        await bags().insertOne({ _id, items: [], ballast } as Bag);
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => bags(i).updateOne({ _id }, { $push: { items: i } })),
        );
        expect(results.map((r) => r.modifiedCount)).toEqual(Array(50).fill(1));
        const bag = await bags().findOne({ _id }, withoutBallast);
        expect([...(bag?.items ?? [])].sort((a, b) => a - b)).toEqual(
          Array.from({ length: 50 }, (_, i) => i),
        );
      }
    });

    it("lets exactly one of 10 concurrent guarded findOneAndUpdate win", async () => {
      type Job = { _id: string; status: string; by?: number };
      const jobs = (i = 0) => client(i).collection<Job>("jobs");
      for (let round = 1; round <= 10; round++) {
        const _id = `job${round}`;
        await jobs().insertOne({ _id, status: "open", ballast } as Job);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            jobs(i).findOneAndUpdate(
              { _id, status: "open" },
              { $set: { status: "taken", by: i } },
              // No projection: FerretDB 1.x does not implement one in findAndModify.
              { returnDocument: "after" },
            ),
          ),
        );
        const winners = results.flatMap((job, i) => (job ? [i] : []));
        expect(winners).toHaveLength(1);
        const winner = results[winners[0]];
        expect([winner?._id, winner?.status, winner?.by]).toEqual([_id, "taken", winners[0]]);
        expect(await jobs().findOne({ _id }, withoutBallast)).toEqual({
          _id,
          status: "taken",
          by: winners[0],
        });
      }
    });

    it("counts every $inc, whether its filter pins _id or not", async () => {
      type Counter = { _id: string; kind: string; n: number };
      const counters = (i = 0) => client(i).collection<Counter>("counters");
      await counters().insertMany([
        { _id: "c1", kind: "shared", n: 0, ballast } as Counter,
        { _id: "c2", kind: "shared", n: 0, ballast } as Counter,
      ]);
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          // Every fourth goes through the collection-wide path: a filter that does not pin _id.
          i % 4 === 0
            ? counters(i).updateMany({ kind: "shared" }, { $inc: { n: 1 } })
            : counters(i).updateOne({ _id: i % 2 ? "c1" : "c2" }, { $inc: { n: 1 } }),
        ),
      );
      // The 10 updateMany count on both; of the other 30, the 20 odd ones on c1, 10 on c2.
      expect(await counters().find({}, withoutBallast).sort({ _id: 1 }).toArray()).toEqual([
        { _id: "c1", kind: "shared", n: 30 },
        { _id: "c2", kind: "shared", n: 20 },
      ]);
    });
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
