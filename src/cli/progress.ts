// Progress for long commands: one updating bar on a TTY, a plain line every few seconds otherwise.
export interface ProgressState {
  done: number;
  total: number;
  failed?: number;
  elapsedSeconds: number;
  /** Extra figures shown after the counts (loss, accuracy, ...). */
  detail?: string;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export class ProgressReporter {
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly unit: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEverySeconds = 2,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(state: ProgressState, final = false): void {
    const now = state.elapsedSeconds;
    if (!final && now - this.lastPrint < (this.tty ? 0.1 : this.plainEverySeconds)) return;
    this.lastPrint = now;
    const rate = now > 0 ? state.done / now : 0;
    const eta = rate > 0 ? (state.total - state.done) / rate : Infinity;
    const fraction = state.total > 0 ? state.done / state.total : 1;
    const failed = state.failed ? `  ${state.failed} failed` : '';
    const detail = state.detail ? `  ${state.detail}` : '';
    const counts = `${state.done}/${state.total} ${this.unit}  ${rate.toFixed(0)} ${this.unit}/s  ETA ${clock(eta)}${failed}${detail}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      this.stream.write(`\r${this.label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${counts}\x1b[K${final ? '\n' : ''}`);
    } else {
      this.stream.write(`${this.label}: ${(fraction * 100).toFixed(0)}% ${counts}\n`);
    }
  }
}
