package org.anode.ode;

/**
 * The explicit midpoint rule, as in the ANODE reference implementation: {@code k1 = f(t, y)},
 * {@code k2 = f(t + h/2, y + h·k1/2)}, {@code y + h·k2}. Order 2, two evaluations a step (Hairer,
 * Nørsett, Wanner, "Solving ODEs I", §II.1, eq. 1.6).
 */
public final class RungeKutta2 extends Solver {
  public RungeKutta2() {
    super(
        new ButcherTableau(new double[][] {{}, {0.5}}, new double[] {0, 1}, new double[] {0, 0.5}));
  }

  @Override
  public String name() {
    return "rk2";
  }

  @Override
  public int order() {
    return 2;
  }
}
