package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.autodiff.Variable;

/**
 * The Dormand–Prince 5(4) pair (Dormand and Prince 1980, "A family of embedded Runge–Kutta
 * formulae", J. Comp. Appl. Math. 6; Hairer, Nørsett, Wanner, "Solving ODEs I", Table II.5.2). The
 * fifth-order solution advances the state (six evaluations a step); the embedded fourth-order one,
 * with a seventh evaluation at the new point, estimates the local error for the adaptive step-size
 * control of {@link Stepping#adaptive}. That seventh evaluation is the next step's first (the pair
 * is "first same as last"), so an adaptive solve costs six evaluations per tried step.
 */
public final class DormandPrince5 extends Solver {
  private static final double[] B5 = {
    35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0
  };
  private static final double[] B4 = {
    5179.0 / 57600, 0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200, 187.0 / 2100, 1.0 / 40
  };

  public DormandPrince5() {
    super(
        new ButcherTableau(
            new double[][] {
              {},
              {1.0 / 5},
              {3.0 / 40, 9.0 / 40},
              {44.0 / 45, -56.0 / 15, 32.0 / 9},
              {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
              {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
              {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}
            },
            B5,
            new double[] {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1}));
  }

  @Override
  public String name() {
    return "dopri5";
  }

  @Override
  public int order() {
    return 5;
  }

  @Override
  public boolean estimatesError() {
    return true;
  }

  /**
   * The fifth-order solution, the local error estimate {@code y5 − y4} and the seventh stage {@code
   * f(t + h, y5)}, which is the next step's first: six new evaluations a step when {@code
   * firstStage} is given, as in Hairer–Wanner's DOPRI5 and scipy's RK45.
   */
  @Override
  public boolean firstSameAsLast() {
    return true;
  }

  @Override
  public Trial trial(
      StateSpace.Field<Variable> field,
      double t,
      double h,
      List<Variable> state,
      Variable firstStage) {
    Variable y = state.get(0);
    List<Variable> k = new ArrayList<>(7);
    if (firstStage != null) {
      k.add(firstStage);
    }
    Variable y5 = step(VARIABLES, field, t, h, y, k, 7);
    double[][] values = new double[7][];
    for (int i = 0; i < 7; i++) {
      values[i] = B5[i] == B4[i] ? null : k.get(i).value().toDoubleArray();
    }
    int n = (int) y.shape().numel();
    double[] err = new double[n];
    for (int i = 0; i < 7; i++) {
      if (values[i] == null) {
        continue;
      }
      double e = h * (B5[i] - B4[i]);
      for (int j = 0; j < n; j++) {
        err[j] += e * values[i][j];
      }
    }
    return new Trial(List.of(y5), err, k.get(6));
  }
}
