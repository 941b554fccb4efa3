package org.anode.ode;

import java.util.List;

/**
 * The arithmetic a Runge–Kutta step needs on its state: {@code y + h·Σ c_i·k_i}. One solver
 * implementation then serves a differentiable state (a {@code Variable}, recorded on the tape) and
 * the adjoint's augmented state (raw tensors, never recorded).
 */
public interface StateSpace<S> {

  /** {@code y + h·Σ_i coefficients[i]·terms[i]}, skipping zero coefficients. */
  S combine(S y, double h, double[] coefficients, List<S> terms);

  /**
   * The step's final combination {@code y + h·Σ bᵢ·kᵢ}, after which the solver reads no stage value
   * again: a state space that owns its stage values may free them as it goes (the adjoint's
   * augmented state, whose stages are several tensors each as large as z). The default is {@link
   * #combine}.
   */
  default S update(S y, double h, double[] weights, List<S> stages) {
    return combine(y, h, weights, stages);
  }

  /**
   * {@code h·cᵢ} for the first {@code n} coefficients (one per term), or null when all are zero and
   * the combination is {@code y} itself.
   */
  static double[] scaled(double h, double[] coefficients, int n) {
    double[] scaled = new double[n];
    boolean any = false;
    for (int i = 0; i < n; i++) {
      scaled[i] = h * coefficients[i];
      any |= scaled[i] != 0;
    }
    return any ? scaled : null;
  }

  /** The right-hand side on this state space. */
  @FunctionalInterface
  interface Field<S> {
    S evaluate(double t, S y);
  }
}
