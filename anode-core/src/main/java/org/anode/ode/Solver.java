package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/**
 * An explicit Runge–Kutta solver given by its {@link ButcherTableau}. One step is written once,
 * generically over a {@link StateSpace}, so the forward pass, every recomputation and the adjoint's
 * backward integration execute exactly the same arithmetic.
 */
public abstract class Solver {
  private final ButcherTableau tableau;
  private final int evaluated;

  protected Solver(ButcherTableau tableau) {
    this.tableau = tableau;
    int last = 0;
    for (int i = 0; i < tableau.stages(); i++) {
      if (tableau.b()[i] != 0) {
        last = i;
      }
    }
    this.evaluated = last + 1;
  }

  /** Short name, such as {@code "rk4"}. */
  public abstract String name();

  /** Order of convergence of the global error. */
  public abstract int order();

  public final ButcherTableau tableau() {
    return tableau;
  }

  /** Evaluations of f per step (stages with a non-zero weight and those before them). */
  public final int stages() {
    return evaluated;
  }

  /** One step from {@code (t, y)} of size {@code h} (negative to integrate backwards). */
  public final <S> S step(StateSpace<S> space, StateSpace.Field<S> f, double t, double h, S y) {
    return step(space, f, t, h, y, new ArrayList<>(evaluated), evaluated);
  }

  /**
   * One step that keeps its stage values in {@code k} (for error estimates); evaluates {@code n}.
   */
  protected final <S> S step(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, S y, List<S> k, int n) {
    double[][] a = tableau.a();
    double[] c = tableau.c();
    for (int i = 0; i < n; i++) {
      S yi = i == 0 ? y : space.combine(y, h, a[i], k);
      k.add(f.evaluate(t + c[i] * h, yi));
    }
    return space.update(y, h, tableau.b(), k.subList(0, evaluated));
  }

  /** One differentiable step of {@code dz/dt = field(t, z)}, recorded if a tape records. */
  public final Variable step(VectorField field, double t, double h, Variable z) {
    return step(VARIABLES, field::evaluate, t, h, z);
  }

  /** Variables combined with {@link Ops}: recorded on the current tape, if any. */
  public static final StateSpace<Variable> VARIABLES =
      (y, h, coefficients, terms) -> {
        double[] scaled = new double[terms.size()];
        boolean any = false;
        for (int i = 0; i < scaled.length; i++) {
          scaled[i] = h * coefficients[i];
          any |= scaled[i] != 0;
        }
        if (!any) {
          return y;
        }
        return Ops.addScaled(y, scaled, terms.toArray(new Variable[0]));
      };

  @Override
  public String toString() {
    return name();
  }
}
