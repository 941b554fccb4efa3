package org.anode.cli.experiment;

import java.util.function.LongSupplier;

/**
 * A nanosecond clock that stands still while paused: a {@link org.anode.train.TimeBudget} read from
 * it counts training time only, so that the time-to-accuracy experiment's intermediate evaluations
 * cost no method any of its budget.
 */
final class PausableClock implements LongSupplier {
  private long pausedNanos;
  private long pausedAt = -1;

  @Override
  public long getAsLong() {
    return (pausedAt >= 0 ? pausedAt : System.nanoTime()) - pausedNanos;
  }

  /** Stops the clock until {@link #resume}. */
  void pause() {
    if (pausedAt < 0) {
      pausedAt = System.nanoTime();
    }
  }

  /** Starts the clock again where it stopped. */
  void resume() {
    if (pausedAt >= 0) {
      pausedNanos += System.nanoTime() - pausedAt;
      pausedAt = -1;
    }
  }
}
