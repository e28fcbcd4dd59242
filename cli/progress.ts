// Progress of long work (build, launch) in a terminal, on stderr so stdout stays the result.
// Not a TTY (a pipe, a CI log): one line per step, "… [3/5] Running the installer ...".
// A TTY: one line redrawn in place, a spinner, a bar and the step counter, cleared at the end.
import type { ProgressStep } from '../commands/types.ts';
import { formatDuration } from '../lib/duration.ts';
import { bar, clip } from '../lib/format.ts';

export interface TerminalProgressOptions {
  write: (text: string) => void;
  tty: boolean;
  /** The terminal's width; the line is cut to fit. Default 80. */
  columns?: number;
  now?: () => number;
  /** How often the spinner turns on a TTY; 0 = only on each step (tests). Default 120 ms. */
  spinMs?: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_CELLS = 20;
const CLEAR_LINE = '\r\u001b[2K';

export function stepLine(line: string, step?: ProgressStep): string {
  return step ? `[${step.index}/${step.total}] ${line}` : line;
}

export class TerminalProgress {
  private frame = 0;
  private state: { line: string; step?: ProgressStep } | undefined;
  private spinner: ReturnType<typeof setInterval> | undefined;
  private drawn = false;
  private readonly now: () => number;
  private readonly startedAt: number;

  constructor(private readonly options: TerminalProgressOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** The CommandContext `progress` callback. */
  readonly report = (line: string, step?: ProgressStep): void => {
    if (!this.options.tty) {
      this.options.write(`… ${stepLine(line, step)}\n`);
      return;
    }
    this.state = { line, step };
    this.draw();
    const spinMs = this.options.spinMs ?? 120;
    if (this.spinner === undefined && spinMs > 0) {
      this.spinner = setInterval(() => this.draw(), spinMs);
      this.spinner.unref();
    }
  };

  /** Stops the spinner and clears its line, before the result is printed. */
  done(): void {
    if (this.spinner !== undefined) clearInterval(this.spinner);
    this.spinner = undefined;
    if (this.drawn) this.options.write(CLEAR_LINE);
    this.drawn = false;
  }

  /** The one line drawn on a TTY, without the carriage return. */
  render(): string {
    const state = this.state;
    if (!state) return '';
    const spin = SPINNER[this.frame % SPINNER.length];
    const elapsed = formatDuration(this.now() - this.startedAt);
    const head = state.step
      ? `${spin} [${bar(state.step.index, state.step.total, { cells: BAR_CELLS, full: '█' })}] ${state.step.index}/${state.step.total}`
      : `${spin} ${'·'.repeat(BAR_CELLS)}`;
    // One column short of the width: a full last column would wrap on some terminals.
    const width = Math.max(20, (this.options.columns ?? 80) - 1);
    return clip(`${head} ${elapsed} ${state.line}`, width);
  }

  private draw(): void {
    this.frame += 1;
    this.options.write(`${CLEAR_LINE}${this.render()}`);
    this.drawn = true;
  }
}
