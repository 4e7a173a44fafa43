/**
 * The metric names in a Prometheus text that break Prometheus' conventions: a time in
 * milliseconds, a counter without `_total`, a histogram without its base unit (Moleculer's
 * `moleculer_request_time` is one, in milliseconds).
 */
export function misnamedMetrics(text: string): string[] {
  const types = new Map(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name, type]),
  );
  const samples = text.match(/^[A-Za-z_:][\w:]*/gm) ?? [];
  return [...new Set([...types.keys(), ...samples])].filter((name) => {
    const type = types.get(name);
    return (
      /_(ms|milliseconds)(_total)?$/.test(name) ||
      (type === "counter" && !name.endsWith("_total")) ||
      (type === "histogram" && !/_(seconds|bytes)$/.test(name))
    );
  });
}

/** The families a Prometheus text declares (its `# TYPE` lines). */
export function metricFamilies(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name);
}
