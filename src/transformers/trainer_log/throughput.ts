// Throughput measured from the batches actually run: every token and the non-pad tokens (from the
// attention mask) over wall-clock time, per log interval and in total.

export interface Interval {
  steps: number;
  seconds: number;
  tokens: number;
  nonPadTokens: number;
}

export class ThroughputMeter {
  private readonly start = performance.now();
  private intervalStart = this.start;
  private interval: Interval = { steps: 0, seconds: 0, tokens: 0, nonPadTokens: 0 };
  private readonly total: Interval = { steps: 0, seconds: 0, tokens: 0, nonPadTokens: 0 };

  /** Counts one finished step's batch. */
  add(tokens: number, nonPadTokens: number): void {
    for (const acc of [this.interval, this.total]) {
      acc.steps += 1;
      acc.tokens += tokens;
      acc.nonPadTokens += nonPadTokens;
    }
  }

  /** Closes the current interval (since the last call) and returns it with its wall time. */
  lap(): Interval {
    const now = performance.now();
    const done = { ...this.interval, seconds: (now - this.intervalStart) / 1000 };
    this.intervalStart = now;
    this.interval = { steps: 0, seconds: 0, tokens: 0, nonPadTokens: 0 };
    return done;
  }

  totals(): Interval {
    return { ...this.total, seconds: (performance.now() - this.start) / 1000 };
  }
}
