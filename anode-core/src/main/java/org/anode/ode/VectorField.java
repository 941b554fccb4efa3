package org.anode.ode;

import org.anode.autodiff.Variable;
import org.anode.nn.Module;

/**
 * The right-hand side {@code f(t, z; θ)} of {@code dz/dt = f} in an {@link OdeBlock}: a module that
 * owns the parameters θ and may use {@code t} or ignore it. Every evaluation is counted, so that a
 * gradient method's cost can be reported in function evaluations.
 */
public abstract class VectorField extends Module {
  private long evaluations;

  /** {@code f(t, z)}, counted. */
  public final Variable evaluate(double t, Variable z) {
    evaluations++;
    return compute(t, z);
  }

  /** The field itself; called by {@link #evaluate}. */
  protected abstract Variable compute(double t, Variable z);

  /** Evaluations since this field was created. */
  public final long evaluations() {
    return evaluations;
  }

  /** {@code f(0, z)}: a vector field is also a module of {@code z} alone. */
  @Override
  public final Variable forward(Variable z) {
    return evaluate(0.0, z);
  }

  /** An autonomous field {@code f(t, z) = module(z)} (the ODE-ResNet blocks ignore t). */
  public static VectorField autonomous(Module module) {
    return new Autonomous(module);
  }

  private static final class Autonomous extends VectorField {
    private final Module module;

    Autonomous(Module module) {
      this.module = registerModule("f", module);
    }

    @Override
    protected Variable compute(double t, Variable z) {
      return module.forward(z);
    }
  }
}
