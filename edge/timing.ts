/**
 * Where a request's time goes, sent back as a Server-Timing header on every
 * answer: parse (routing, body read, validation), noise (seeded draws), run
 * (the graph, including the wait for a batch), encode (JSON, float32 or PNG),
 * plus how many requests shared the graph run (batch). Laps are wall time from
 * performance.now(); under workerd the clock only moves on I/O (a Spectre
 * mitigation), so there CPU phases can read 0 and only the run, which crosses
 * the batcher's timer, shows.
 */
export type Phase = 'parse' | 'noise' | 'run' | 'encode';

export class Phases {
  private readonly ms: Record<Phase, number> = { parse: 0, noise: 0, run: 0, encode: 0 };
  private last = performance.now();
  private readonly start = this.last;
  /** requests that shared the last graph run with this one (1: it ran alone) */
  batch = 0;
  /** graph runs the rows were split into (edge/batch.ts maxRunRows); shown when over 1 */
  pieces = 0;
  /** first use of a session in this isolate: its steps (load, sha256, session), ms, inside `run` */
  readonly open: Record<string, number> = {};

  /** Charge the time since the previous lap to `phase`. */
  lap(phase: Phase): void {
    const now = performance.now();
    this.ms[phase] += now - this.last;
    this.last = now;
  }

  get(phase: Phase): number {
    return this.ms[phase];
  }

  header(): string {
    const parts = (Object.keys(this.ms) as Phase[]).map((p) => `${p};dur=${this.ms[p].toFixed(2)}`);
    parts.push(`total;dur=${(this.last - this.start).toFixed(2)}`);
    for (const [k, v] of Object.entries(this.open)) parts.push(`${k};dur=${v.toFixed(2)}`);
    if (this.batch) parts.push(`batch;desc="${this.batch}"`);
    if (this.pieces > 1) parts.push(`pieces;desc="${this.pieces}"`);
    return parts.join(', ');
  }
}
