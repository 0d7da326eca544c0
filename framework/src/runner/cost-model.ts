/**
 * Estimates how long a batch of n items takes, as BentoML's dispatcher does:
 * duration ≈ a·n + b, fitted by least squares over the most recent batches.
 * The first batches are left out: they pay for the backend's warm-up (ONNX
 * Runtime's first runs take many times longer), which would inflate b.
 */
export class CostModel {
  private readonly samples: Array<[number, number]> = [];
  private skipped = 0;
  private a = 0;
  private b = 0;

  constructor(
    private readonly window = 64,
    private readonly warmup = 2,
  ) {}

  get fitted(): boolean {
    return this.samples.length > 0;
  }

  /** Adds a batch's duration; false when it was left out as a warm-up batch. */
  record(items: number, durationMs: number): boolean {
    if (this.skipped < this.warmup) {
      this.skipped++;
      return false;
    }
    this.samples.push([items, durationMs]);
    if (this.samples.length > this.window) this.samples.shift();
    this.fit();
    return true;
  }

  /** Expected duration of a batch of `items`, in ms (0 before any batch ran). */
  estimate(items: number): number {
    return Math.max(0, this.a * items + this.b);
  }

  get coefficients(): { a: number; b: number } {
    return { a: this.a, b: this.b };
  }

  private fit(): void {
    const n = this.samples.length;
    let sx = 0;
    let sy = 0;
    for (const [x, y] of this.samples) {
      sx += x;
      sy += y;
    }
    const mx = sx / n;
    const my = sy / n;
    let sxx = 0;
    let sxy = 0;
    for (const [x, y] of this.samples) {
      sxx += (x - mx) * (x - mx);
      sxy += (x - mx) * (y - my);
    }
    if (sxx === 0 && mx <= 1) {
      // Only batches of one: their cost is read as fixed. Read per item, it would price a full batch at
      // maxBatchSize times one; admission would then take only requests that can start at once, each a batch of
      // one again, and batches could never grow to show the true cost. Read as fixed, queued requests are let in,
      // batches grow, and their varied sizes give the fit its slope.
      this.a = 0;
      this.b = my;
      return;
    }
    if (sxx === 0) {
      // All batches had the same size: attribute the cost per item, the pessimistic reading for larger batches.
      this.a = my / mx;
      this.b = 0;
      return;
    }
    this.a = Math.max(0, sxy / sxx);
    this.b = Math.max(0, my - this.a * mx);
  }
}
