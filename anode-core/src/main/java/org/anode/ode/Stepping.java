package org.anode.ode;

/**
 * How an {@link OdeBlock} places its steps on {@code [t0, t1]}: a fixed number of equal steps, or
 * steps chosen by an error controller. Either way the forward pass records the steps it took
 * ({@link TimeGrid}), so every recomputation replays exactly the same steps.
 */
public sealed interface Stepping {

  /** {@code steps} equal steps (the paper's N_t). */
  static Stepping fixed(int steps) {
    return new Fixed(steps);
  }

  /**
   * Adaptive steps of {@link DormandPrince5} with the standard controller (Hairer, Nørsett, Wanner,
   * "Solving ODEs I", §II.4): a step is accepted when {@code ‖err / (atol + rtol·max(|y|,
   * |y_new|))‖_RMS ≤ 1}, and the next size is {@code h·min(10, max(0.2, 0.9·err^(−1/5)))}.
   */
  static Stepping adaptive(double rtol, double atol) {
    return new Adaptive(rtol, atol, 10_000);
  }

  record Fixed(int steps) implements Stepping {
    public Fixed {
      if (steps < 1) {
        throw new IllegalArgumentException("Stepping.fixed: steps must be >= 1, got " + steps);
      }
    }
  }

  record Adaptive(double rtol, double atol, int maxSteps) implements Stepping {
    public Adaptive {
      if (!(rtol > 0) || !(atol > 0) || maxSteps < 1) {
        throw new IllegalArgumentException(
            "Stepping.adaptive: rtol and atol must be > 0, got rtol=" + rtol + ", atol=" + atol);
      }
    }
  }
}
