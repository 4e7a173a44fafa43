import type { Connection, Model } from "mongoose";
import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { connectServiceDb, countCommands, ensureIndexes, isFerretDb } from "../lib/mongo";
import { runtimeOf } from "../lib/runtime";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- models of any document shape
export type ModelFactories = Record<string, (connection: Connection) => Model<any>>;

/** What a service gets from MongoMixin: its own database and the models built on it. */
export interface MongoThis<M extends ModelFactories = ModelFactories> {
  db: Connection;
  models: { [K in keyof M]: ReturnType<M[K]> };
}

/**
 * Gives a service its own database (`kilat-<db>`) and builds its models on it before the
 * service's own `started` runs, so handlers and consumers can use them from the first call.
 */
export function MongoMixin<M extends ModelFactories>(options: { db: string; models: M }) {
  type This = Service & MongoThis<M>;
  const mixin: Partial<ServiceSchema<ServiceSettingSchema, object, object, This>> = {
    async started(this: This) {
      this.db = await connectServiceDb(runtimeOf(this.broker).config, options.db);
      countCommands(this.db, this.broker.metrics, options.db);
      const models = Object.fromEntries(
        Object.entries(options.models).map(([name, factory]) => [name, factory(this.db)]),
      );
      this.models = models as MongoThis<M>["models"];
      await Promise.all(Object.values(models).map((model) => model.init()));
      const onFerretDb = await isFerretDb(this.db);
      for (const model of Object.values(models)) await ensureIndexes(model, onFerretDb);
    },
    async stopped(this: This) {
      await this.db?.close();
    },
  };
  return mixin as Partial<ServiceSchema>;
}
