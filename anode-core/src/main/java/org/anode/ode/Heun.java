package org.anode.ode;

/**
 * Heun's method (the explicit trapezoidal rule): {@code k1 = f(t, y)}, {@code k2 = f(t + h, y +
 * h·k1)}, {@code y + h·(k1 + k2)/2}. Order 2, two evaluations a step (Hairer, Nørsett, Wanner,
 * "Solving ODEs I", §II.1, eq. 1.5).
 */
public final class Heun extends Solver {
  public Heun() {
    super(
        new ButcherTableau(new double[][] {{}, {1}}, new double[] {0.5, 0.5}, new double[] {0, 1}));
  }

  @Override
  public String name() {
    return "heun";
  }

  @Override
  public int order() {
    return 2;
  }
}
