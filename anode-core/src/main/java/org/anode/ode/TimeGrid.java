package org.anode.ode;

import java.util.Arrays;

/**
 * The time points {@code t_0 < t_1 < … < t_n} of the steps a solve took, and the forward pass they
 * belong to ({@code pass} keys the random draws of stochastic layers, so that replaying the steps
 * replays the draws).
 */
public record TimeGrid(double[] times, long pass) {

  public TimeGrid {
    if (times.length < 2) {
      throw new IllegalArgumentException("TimeGrid: needs at least two points");
    }
    times = times.clone();
  }

  /** {@code n} equal steps on {@code [t0, t1]} of forward pass {@code pass}. */
  public static TimeGrid uniform(double t0, double t1, int n, long pass) {
    double[] t = new double[n + 1];
    for (int i = 0; i <= n; i++) {
      t[i] = t0 + (t1 - t0) * i / n;
    }
    return new TimeGrid(t, pass);
  }

  public int steps() {
    return times.length - 1;
  }

  public double t(int i) {
    return times[i];
  }

  public double dt(int i) {
    return times[i + 1] - times[i];
  }

  @Override
  public double[] times() {
    return times.clone();
  }

  @Override
  public String toString() {
    return "TimeGrid" + Arrays.toString(times) + " of pass " + pass;
  }
}
