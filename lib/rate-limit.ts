export interface RateLimiterOptions {
  /** tokens added per second, continuously */
  ratePerSec: number;
  /** bucket size: how many calls may go at once after a quiet spell */
  burst: number;
  /** at most this many keys tracked; the least recently seen are forgotten first */
  maxKeys: number;
}

interface Bucket {
  tokens: number;
  /** when `tokens` was last brought up to date, in ms */
  at: number;
  dropped: number;
}

/**
 * A token bucket per key (a socket, a runner) with bounded memory, so that a flood of distinct
 * keys cannot grow it without limit. A forgotten key comes back with a full bucket and no drop
 * count: that is the price of the bound. Time is passed in, so tests need no fake timers.
 */
export class RateLimiter {
  private readonly ratePerSec: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  /** Map keeps insertion order: re-inserting on every call makes the first key the least recent. */
  private readonly buckets = new Map<string, Bucket>();
  private droppedTotal = 0;

  constructor(options: RateLimiterOptions) {
    const { ratePerSec, burst, maxKeys } = options;
    if (!(Number.isFinite(ratePerSec) && ratePerSec >= 0)) {
      throw new RangeError(
        `RateLimiter: ratePerSec must be a finite number >= 0, got ${ratePerSec}`,
      );
    }
    if (!(Number.isFinite(burst) && burst >= 1)) {
      throw new RangeError(`RateLimiter: burst must be a finite number >= 1, got ${burst}`);
    }
    if (!(Number.isInteger(maxKeys) && maxKeys >= 1)) {
      throw new RangeError(`RateLimiter: maxKeys must be an integer >= 1, got ${maxKeys}`);
    }
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.maxKeys = maxKeys;
  }

  /** true when the key may go (spending `cost` tokens); false = drop it (counted) */
  allow(key: string, nowMs: number, cost = 1): boolean {
    if (!Number.isFinite(nowMs)) throw new RangeError(`RateLimiter: nowMs is ${nowMs}`);
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
      // A clock that steps back refills nothing, and the bucket keeps its later time. Multiply
      // before dividing: whole ms × whole rates stay exact, so a token is due exactly on time.
      if (nowMs > bucket.at) {
        bucket.tokens = Math.min(
          this.burst,
          bucket.tokens + ((nowMs - bucket.at) * this.ratePerSec) / 1000,
        );
        bucket.at = nowMs;
      }
    } else {
      if (this.buckets.size >= this.maxKeys) {
        // The first key in insertion order is the least recently seen.
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
      }
      bucket = { tokens: this.burst, at: nowMs, dropped: 0 };
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return true;
    }
    bucket.dropped += 1;
    this.droppedTotal += 1;
    return false;
  }

  /** Total calls dropped, keys since forgotten included. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /**
   * Calls dropped for a key while it has been tracked; 0 for a key not (or no longer) tracked.
   * Reading is not seeing: it does not save the key from eviction.
   */
  dropCount(key: string): number {
    return this.buckets.get(key)?.dropped ?? 0;
  }

  /** Keys tracked now; never more than maxKeys. */
  get size(): number {
    return this.buckets.size;
  }
}
