import { nextCandidate, type Candidate } from "../../domain/dispatch";

const none = new Set<string>();
const options = (extra: Partial<Parameters<typeof nextCandidate>[1]> = {}) => ({
  radiusKm: 5,
  tried: none,
  busy: none,
  ...extra,
});
const c = (runnerId: string, distanceKm: number): Candidate => ({ runnerId, distanceKm });

describe("nextCandidate", () => {
  it("given candidates in any order, offers the nearest first", () => {
    const candidates = [c("r-far", 4), c("r-near", 0.8), c("r-mid", 2)];
    expect(nextCandidate(candidates, options())).toEqual(c("r-near", 0.8));
    expect(nextCandidate([...candidates].reverse(), options())).toEqual(c("r-near", 0.8));
  });

  it("given a tie on distance, offers the lowest runnerId, whatever the input order", () => {
    const tied = [c("r-b", 1), c("r-c", 1), c("r-a", 1), c("r-0", 1.5)];
    expect(nextCandidate(tied, options())?.runnerId).toEqual("r-a");
    expect(nextCandidate([...tied].reverse(), options())?.runnerId).toEqual("r-a");
  });

  it("compares runnerIds by code unit, not locale: upper case sorts before lower", () => {
    expect(nextCandidate([c("a", 1), c("B", 1)], options())?.runnerId).toEqual("B");
  });

  it("offers only runners within the radius, the edge included", () => {
    expect(nextCandidate([c("r-1", 5.001)], options())).toBeNull();
    expect(nextCandidate([c("r-1", 5)], options())).toEqual(c("r-1", 5));
    expect(nextCandidate([c("r-1", 5.001), c("r-2", 7)], options({ radiusKm: 10 }))).toEqual(
      c("r-1", 5.001),
    );
  });

  it("skips runners already tried for this booking", () => {
    const candidates = [c("r-1", 1), c("r-2", 2), c("r-3", 3)];
    expect(nextCandidate(candidates, options({ tried: new Set(["r-1"]) }))?.runnerId).toEqual(
      "r-2",
    );
    expect(
      nextCandidate(candidates, options({ tried: new Set(["r-1", "r-2"]) }))?.runnerId,
    ).toEqual("r-3");
  });

  it("skips runners who are not free: an open offer or an active booking", () => {
    const candidates = [c("r-1", 1), c("r-2", 2)];
    expect(nextCandidate(candidates, options({ busy: new Set(["r-1"]) }))?.runnerId).toEqual("r-2");
  });

  it("given everyone tried, busy or out of range, is null", () => {
    const candidates = [c("r-1", 1), c("r-2", 2), c("r-3", 9)];
    expect(
      nextCandidate(candidates, options({ tried: new Set(["r-1"]), busy: new Set(["r-2"]) })),
    ).toBeNull();
    expect(nextCandidate([], options())).toBeNull();
  });

  it("skips a runner with a NaN or negative distance rather than offering them first", () => {
    expect(nextCandidate([c("r-1", NaN), c("r-2", 3)], options())?.runnerId).toEqual("r-2");
    expect(nextCandidate([c("r-1", -1), c("r-2", 3)], options())?.runnerId).toEqual("r-2");
  });

  it("leaves the candidates as they were", () => {
    const candidates = Object.freeze([c("r-2", 2), c("r-1", 1)]);
    nextCandidate(candidates, options());
    expect(candidates.map((x) => x.runnerId)).toEqual(["r-2", "r-1"]);
  });
});
