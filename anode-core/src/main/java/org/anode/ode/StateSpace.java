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

  /** The right-hand side on this state space. */
  @FunctionalInterface
  interface Field<S> {
    S evaluate(double t, S y);
  }
}
