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
  /** The same database over the background pool (MONGO_BACKGROUND_POOL connections). */
  $backgroundDb: Connection;
  /** The models as requests use them, whatever pool `models` is on where they are asked for. */
  $requestModels: { [K in keyof M]: ReturnType<M[K]> };
  /**
   * The service as its background work sees it (consumers, sweeps, outbox relays): the same
   * object, but `db` and `models` on the background pool, so that this work never holds a
   * connection a request waits for. What it sets, it sets on the service itself.
   */
  $background: this;
}

/** The service with `db` and `models` on other connections; everything else is the service's. */
function onPool<T extends object>(service: T, db: Connection, models: object): T {
  return new Proxy(service, {
    get: (target, key) =>
      key === "db" ? db : key === "models" ? models : Reflect.get(target, key, target),
  });
}

/**
 * Gives a service its own database (`kilat-<db>`) and builds its models on it before the
 * service's own `started` runs, so handlers and consumers can use them from the first call.
 */
export function MongoMixin<M extends ModelFactories>(options: { db: string; models: M }) {
  type This = Service & MongoThis<M>;
  const mixin: Partial<ServiceSchema<ServiceSettingSchema, object, object, This>> = {
    async started(this: This) {
      const { config } = runtimeOf(this.broker);
      [this.db, this.$backgroundDb] = await Promise.all([
        connectServiceDb(config, options.db),
        connectServiceDb(config, options.db, config.mongoBackgroundPool),
      ]);
      countCommands(this.db, this.broker.metrics, options.db);
      countCommands(this.$backgroundDb, this.broker.metrics, options.db, "background");
      const modelsOn = (connection: Connection) =>
        Object.fromEntries(
          Object.entries(options.models).map(([name, factory]) => [name, factory(connection)]),
        );
      const models = modelsOn(this.db);
      this.models = models as MongoThis<M>["models"];
      this.$requestModels = this.models;
      this.$background = onPool(this, this.$backgroundDb, modelsOn(this.$backgroundDb));
      await Promise.all(Object.values(models).map((model) => model.init()));
      const onFerretDb = await isFerretDb(this.db);
      for (const model of Object.values(models)) await ensureIndexes(model, onFerretDb);
    },
    async stopped(this: This) {
      await Promise.all([this.db?.close(), this.$backgroundDb?.close()]);
    },
  };
  return mixin as Partial<ServiceSchema>;
}
