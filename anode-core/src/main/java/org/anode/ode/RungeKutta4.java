package org.anode.ode;

/**
 * The classic fourth-order Runge–Kutta method (Kutta 1901): weights 1/6, 1/3, 1/3, 1/6 at nodes 0,
 * 1/2, 1/2, 1. Order 4, four evaluations a step (Hairer, Nørsett, Wanner, "Solving ODEs I", Table
 * II.1.2, left).
 */
public final class RungeKutta4 extends Solver {
  public RungeKutta4() {
    super(
        new ButcherTableau(
            new double[][] {{}, {0.5}, {0, 0.5}, {0, 0, 1}},
            new double[] {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6},
            new double[] {0, 0.5, 0.5, 1}));
  }

  @Override
  public String name() {
    return "rk4";
  }

  @Override
  public int order() {
    return 4;
  }
}
