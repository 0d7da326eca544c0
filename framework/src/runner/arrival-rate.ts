/**
 * Expected time between arriving items, as an exponentially weighted mean of
 * the gaps seen (a request of k items counts as k arrivals spread over its gap).
 * The dispatcher holds a partial batch only when this says more work is close.
 */
export class ArrivalRate {
  private last: number | undefined;
  private mean: number | undefined;

  constructor(private readonly weight = 0.2) {}

  /** Mean gap between items, in ms; undefined until two requests have been seen. */
  get gap(): number | undefined {
    return this.mean;
  }

  record(now: number, items: number): void {
    if (this.last !== undefined) {
      const gap = (now - this.last) / items;
      this.mean = this.mean === undefined ? gap : this.mean + this.weight * (gap - this.mean);
    }
    this.last = now;
  }
}
