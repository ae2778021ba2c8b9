import type { Clock } from '../core/clock.ts';
import type { InputState } from '../core/status.ts';

/** An input's state and since when it holds, for SourceStatus. */
export class InputStateTracker {
  private current: InputState = 'closed';
  private changedAt: number;

  constructor(private readonly clock: Clock) {
    this.changedAt = clock.now();
  }

  get state(): InputState {
    return this.current;
  }

  get since(): number {
    return this.changedAt;
  }

  set(state: InputState): void {
    if (state === this.current) return;
    this.current = state;
    this.changedAt = this.clock.now();
  }
}
