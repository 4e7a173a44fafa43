import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { Config } from "../lib/config";
import { PeriodicTask } from "../lib/periodic";
import { runtimeOf } from "../lib/runtime";

export interface PeriodicOptions<S> {
  /** The period, from the validated configuration. */
  everyMs: (config: Config) => number;
  run: (this: S) => Promise<unknown>;
}

/**
 * Runs each named task every period while the service runs (lib/periodic.ts: never two runs at
 * once, a failure is logged and the next run goes ahead). A service's stop waits for a run in
 * progress before its consumers and its database close.
 */
export function Periodic<S extends Service>(tasks: Record<string, PeriodicOptions<S>>) {
  type This = S & { $periodic: PeriodicTask[] };
  const mixin: Partial<ServiceSchema<ServiceSettingSchema, object, object, This>> = {
    started(this: This) {
      const { config } = runtimeOf(this.broker);
      this.$periodic = Object.entries(tasks).map(([name, task]) => {
        const periodic = new PeriodicTask(
          // Background work: on the service's background pool where it has a database.
          () => task.run.call((this as S & { $background?: S }).$background ?? this),
          task.everyMs(config),
          (error) => this.logger.warn(`${name} failed`, error),
        );
        periodic.start();
        return periodic;
      });
    },
    async stopped(this: This) {
      await Promise.all((this.$periodic ?? []).map((task) => task.stop()));
    },
  };
  return mixin as Partial<ServiceSchema>;
}
