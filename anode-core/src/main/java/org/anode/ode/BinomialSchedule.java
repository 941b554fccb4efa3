package org.anode.ode;

import java.util.HashMap;
import java.util.Map;

/**
 * The offline optimal checkpointing schedule of Griewank and Walther for reversing a chain of
 * {@code n} steps with {@code s} snapshots, where the chain's input is one of them (Griewank 1992,
 * "Achieving logarithmic growth of temporal and spatial complexity in reverse automatic
 * differentiation"; Griewank and Walther 2000, "Algorithm 799: revolve", ACM TOMS 26).
 *
 * <p>With {@code β(s, t) = C(s + t, s)} and {@code t} the smallest integer with {@code β(s, t) ≥
 * n}, the least number of extra (unrecorded) step evaluations is {@code t·n − β(s + 1, t − 1)}.
 * {@link #split} gives, for each sub-chain, where to place the next snapshot so that the recursion
 * attains exactly that minimum (found by dynamic programming over the recursion {@code F(n, s) =
 * min_m [m + F(n − m, s − 1) + F(m, s)]}, {@code F(1, s) = 0}, {@code F(n, 1) = n(n − 1)/2}).
 */
public final class BinomialSchedule {
  private final int snapshots;
  private final Map<Long, int[]> memo = new HashMap<>(); // (n, s) -> {cost, split}

  /** A schedule for {@code snapshots ≥ 1} snapshots, the chain input included. */
  public BinomialSchedule(int snapshots) {
    if (snapshots < 1) {
      throw new IllegalArgumentException(
          "BinomialSchedule: needs at least 1 snapshot (the block input), got " + snapshots);
    }
    this.snapshots = snapshots;
  }

  public int snapshots() {
    return snapshots;
  }

  /** {@code β(s, t) = C(s + t, s)}. */
  public static long beta(int s, int t) {
    if (t < 0) {
      return 0;
    }
    long r = 1;
    for (int i = 1; i <= s; i++) {
      r = r * (t + i) / i;
    }
    return r;
  }

  /** The minimum number of extra step evaluations, in closed form. */
  public static long extraSteps(int n, int s) {
    if (n <= 1) {
      return 0;
    }
    int t = 0;
    while (beta(s, t) < n) {
      t++;
    }
    return (long) t * n - beta(s + 1, t - 1);
  }

  /** Extra step evaluations that the recursion of {@link #split} performs for {@code n} steps. */
  public long cost(int n) {
    return solve(n, snapshots)[0];
  }

  /**
   * Where to take the next snapshot in a sub-chain of {@code n ≥ 2} steps with {@code s ≥ 2}
   * snapshots available: the number of steps to advance from its start.
   */
  int split(int n, int s) {
    return solve(n, s)[1];
  }

  private int[] solve(int n, int s) {
    if (n <= 1) {
      return new int[] {0, 0};
    }
    if (s == 1) {
      return new int[] {n * (n - 1) / 2, 0};
    }
    long key = ((long) n << 20) | s;
    int[] known = memo.get(key);
    if (known != null) {
      return known;
    }
    int best = Integer.MAX_VALUE;
    int bestM = 1;
    for (int m = 1; m < n; m++) {
      int c = m + solve(n - m, s - 1)[0] + solve(m, s)[0];
      if (c < best) {
        best = c;
        bestM = m;
      }
    }
    int[] r = {best, bestM};
    memo.put(key, r);
    return r;
  }
}
