package org.anode.models;

import java.util.function.Supplier;
import org.anode.ode.CheckpointedGradient;
import org.anode.ode.Euler;
import org.anode.ode.GradientMethod;
import org.anode.ode.OdeBlock;
import org.anode.ode.Solver;
import org.anode.ode.Stepping;
import org.anode.ode.VectorField;

/**
 * How every ODE block of a model is solved and differentiated: solver, steps on {@code [0, T]} and
 * gradient method (each block gets its own method object).
 */
public record OdeSettings(
    Supplier<Solver> solver, Stepping stepping, double endTime, Supplier<GradientMethod> method) {

  /** ANODE with Euler, N_t = 1, T = 1: an ODE block then matches a residual block's cost. */
  public static OdeSettings defaults() {
    return new OdeSettings(Euler::new, Stepping.fixed(1), 1.0, CheckpointedGradient::new);
  }

  /** An ODE block with this field. */
  public OdeBlock block(VectorField field) {
    return new OdeBlock(field, solver.get(), 0, endTime, stepping, method.get());
  }
}
