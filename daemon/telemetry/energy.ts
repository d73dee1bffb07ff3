/**
 * Energy per inference (DESIGN.md section 2): the energy measured over each window (between
 * two power samples) is divided among the tasks by their busy time in that window.
 *
 * An inference is counted in the window in which it completes, with all of its busy time
 * (an inference straddling a window boundary is attributed to the later window; with windows
 * much longer than inferences the error is small). A window without measured energy (no
 * sensor, the first sample, a sensor lost mid-window) attributes nothing and its inferences
 * are left out of the per-inference averages. Energy of a window in which no task was busy is
 * idle energy: counted in `idleJoulesTotal`, charged to no task.
 *
 * @module
 */

/** Most tasks tracked. */
export const ENERGY_TASKS_MAX = 1024;

/** Energy figures of one task. */
export interface TaskEnergy {
  /** Energy attributed to the task since start, J. */
  readonly joulesTotal: number;
  /** Inferences in windows with measured energy (the denominator of the cumulative average). */
  readonly inferencesMeasured: number;
  /** Joules per inference in the last closed window where the task ran and energy was measured; `null` before. */
  readonly joulesPerInferenceLast: number | null;
  /** `joulesTotal / inferencesMeasured`; `null` before any. */
  readonly joulesPerInferenceCumulative: number | null;
}

interface TaskWindow {
  busyMs: number;
  inferences: number;
  joulesTotal: number;
  inferencesMeasured: number;
  joulesPerInferenceLast: number | null;
}

/** What one window closing attributed. */
export interface WindowAttribution {
  /** Joules given to each task that was busy in the window. */
  readonly byTask: Readonly<Record<string, number>>;
  /** Joules of the window charged to no task (nobody busy). */
  readonly idleJoules: number;
}

/**
 * Accumulates busy time per task and apportions each window's energy.
 *
 * @example
 * ```ts
 * import { EnergyAccount } from "./energy.ts";
 * const account = new EnergyAccount();
 * account.inference("detect", 30);
 * account.inference("segment", 10);
 * account.closeWindow(8); // 6 J to detect, 2 J to segment
 * console.log(account.task("detect")?.joulesPerInferenceLast); // 6
 * ```
 */
export class EnergyAccount {
  readonly #tasks = new Map<string, TaskWindow>();
  #idleJoulesTotal = 0;
  #attributedJoulesTotal = 0;

  /** Records one finished inference of `task` that kept its worker busy `busyMs`. */
  inference(task: string, busyMs: number): void {
    const window = this.#window(task);
    if (window === null) return;
    window.inferences += 1;
    if (Number.isFinite(busyMs) && busyMs > 0) window.busyMs += busyMs;
  }

  /**
   * Closes the current window: shares `joules` (the energy measured over it, or `null` when
   * not measured) among the tasks by busy time, then starts a new window.
   */
  closeWindow(joules: number | null): WindowAttribution {
    const byTask: Record<string, number> = {};
    let idleJoules = 0;
    const measured = joules !== null && Number.isFinite(joules) && joules >= 0;
    if (measured) {
      let busyTotalMs = 0;
      for (const window of this.#tasks.values()) busyTotalMs += window.busyMs;
      if (busyTotalMs > 0) {
        for (const [task, window] of this.#tasks) {
          if (window.busyMs <= 0 && window.inferences === 0) continue;
          const share = joules * (window.busyMs / busyTotalMs);
          byTask[task] = share;
          window.joulesTotal += share;
          window.inferencesMeasured += window.inferences;
          if (window.inferences > 0) window.joulesPerInferenceLast = share / window.inferences;
        }
        this.#attributedJoulesTotal += joules;
      } else {
        idleJoules = joules;
        this.#idleJoulesTotal += joules;
      }
    }
    for (const window of this.#tasks.values()) {
      window.busyMs = 0;
      window.inferences = 0;
    }
    return { byTask, idleJoules };
  }

  /** The figures of `task`, or `undefined` if it never ran. */
  task(task: string): TaskEnergy | undefined {
    const window = this.#tasks.get(task);
    if (window === undefined) return undefined;
    return {
      joulesTotal: window.joulesTotal,
      inferencesMeasured: window.inferencesMeasured,
      joulesPerInferenceLast: window.joulesPerInferenceLast,
      joulesPerInferenceCumulative: window.inferencesMeasured > 0
        ? window.joulesTotal / window.inferencesMeasured
        : null,
    };
  }

  /** Energy charged to no task since start, J. */
  get idleJoulesTotal(): number {
    return this.#idleJoulesTotal;
  }

  /** Energy shared among tasks since start, J. */
  get attributedJoulesTotal(): number {
    return this.#attributedJoulesTotal;
  }

  #window(task: string): TaskWindow | null {
    let window = this.#tasks.get(task);
    if (window === undefined) {
      if (this.#tasks.size >= ENERGY_TASKS_MAX) return null;
      window = {
        busyMs: 0,
        inferences: 0,
        joulesTotal: 0,
        inferencesMeasured: 0,
        joulesPerInferenceLast: null,
      };
      this.#tasks.set(task, window);
    }
    return window;
  }
}
