package org.anode.train;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * A wall-clock budget for a whole training run, data loading and the final evaluation included, and
 * the plan that fits into it: how many steps to take, re-planned as the measured pace of the steps
 * changes, so that the last step ends with just the time for the final evaluation and the
 * checkpoint left. The learning rate of a planned run follows {@link #learningRate}: a short linear
 * warm-up, then cosine annealing to zero at the planned last step (Loshchilov and Hutter 2017; with
 * the warm-up, the one-cycle shape of Smith and Topin 2019), so that a run stopped by its budget
 * ends annealed.
 */
public final class TimeBudget {
  /** Fraction of the planned steps spent warming the learning rate up from a tenth of its peak. */
  static final double WARMUP = 0.03;

  /** What a plan keeps free beyond its estimates, for the unforeseen (a slow step, a GC). */
  static final double MARGIN = 0.03;

  private final long budgetNanos;
  private final long startNanos;
  private final LongSupplier clock;

  /** A budget starting now on {@code clock} (nanoseconds). */
  public TimeBudget(Duration budget, LongSupplier clock) {
    this(budget, clock, clock.getAsLong());
  }

  /** A budget that started at {@code startNanos} on {@code clock}. */
  public TimeBudget(Duration budget, LongSupplier clock, long startNanos) {
    if (budget.isNegative() || budget.isZero()) {
      throw new IllegalArgumentException("--time-budget must be positive, got " + budget);
    }
    this.budgetNanos = budget.toNanos();
    this.clock = clock;
    this.startNanos = startNanos;
  }

  /** Seconds since the budget started. */
  public double elapsed() {
    return (clock.getAsLong() - startNanos) / 1e9;
  }

  /** Seconds of the budget left (negative once it is spent). */
  public double remaining() {
    return budgetNanos / 1e9 - elapsed();
  }

  /**
   * The total number of steps that fit: the {@code done} already taken plus as many more as the
   * remaining time allows at {@code secondsPerStep}, after setting aside {@code reserveSeconds}
   * (the final evaluation and checkpoint) and a margin. At least {@code done} (never more steps
   * than the budget allows, never fewer than already taken).
   */
  public int plan(int done, double secondsPerStep, double reserveSeconds) {
    if (!(secondsPerStep > 0)) {
      throw new IllegalArgumentException("seconds per step must be positive: " + secondsPerStep);
    }
    double free = remaining() - reserveSeconds - MARGIN * budgetNanos / 1e9;
    long more = (long) Math.floor(Math.max(0, free) / secondsPerStep);
    return (int) Math.min(Integer.MAX_VALUE, done + more);
  }

  /**
   * The learning rate of step {@code step} (0-based) of a run planned for {@code steps} steps with
   * peak {@code peak}: linear from peak/10 to peak over the first {@value #WARMUP} of the steps,
   * then {@code peak · (1 + cos(π·t)) / 2} with t going from 0 to 1 at the last step.
   */
  public static double learningRate(double peak, int step, int steps) {
    if (steps <= 1) {
      return peak;
    }
    int warm = Math.max(1, (int) Math.round(WARMUP * steps));
    if (step < warm) {
      return peak * (0.1 + 0.9 * step / warm);
    }
    double t = Math.min(1.0, (step - warm) / (double) Math.max(1, steps - 1 - warm));
    return 0.5 * peak * (1 + Math.cos(Math.PI * t));
  }

  /**
   * Parses {@code 15m}, {@code 90s}, {@code 1h30m}, {@code 45} (seconds) or an ISO-8601 duration,
   * positive and at most a year.
   */
  public static Duration parse(String s) {
    Duration d = parseDuration(s);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("--time-budget must be positive, got '" + s + "'");
    }
    if (d.compareTo(MAX) > 0) {
      throw new IllegalArgumentException(
          "--time-budget must be at most " + MAX.toDays() + " days, got '" + s + "'");
    }
    return d;
  }

  /** The longest budget: a year (in nanoseconds, the clock's unit, 292 years overflow). */
  static final Duration MAX = Duration.ofDays(366);

  private static Duration parseDuration(String s) {
    String t = s.trim().toLowerCase(java.util.Locale.ROOT);
    try {
      if (t.startsWith("pt") || t.startsWith("p")) {
        return Duration.parse(t.toUpperCase(java.util.Locale.ROOT));
      }
      if (t.matches("\\d+(\\.\\d+)?")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
      }
      if (t.matches("(\\d+h)?(\\d+m)?(\\d+s)?") && !t.isEmpty()) {
        return Duration.parse("PT" + t.toUpperCase(java.util.Locale.ROOT));
      }
    } catch (RuntimeException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        "--time-budget must be a duration such as 15m, 90s or 1h30m, got '" + s + "'");
  }
}
