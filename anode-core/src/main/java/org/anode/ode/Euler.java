package org.anode.ode;

/**
 * Forward Euler, {@code y + h·f(t, y)}: order 1, one evaluation a step. A ResNet block is one Euler
 * step of size 1 (ANODE paper, eq. 1).
 */
public final class Euler extends Solver {
  public Euler() {
    super(new ButcherTableau(new double[][] {{}}, new double[] {1}, new double[] {0}));
  }

  @Override
  public String name() {
    return "euler";
  }

  @Override
  public int order() {
    return 1;
  }
}
