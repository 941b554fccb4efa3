package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/**
 * An explicit one-step solver given by its {@link ButcherTableau}. One step is written once,
 * generically over a {@link StateSpace}, so the forward pass, every recomputation and the adjoint's
 * backward integration execute exactly the same arithmetic.
 *
 * <p>Between steps a solver carries a state that starts with z: z alone for a Runge–Kutta method
 * ({@link #carried()} = 1), z with velocities or stored evaluations for the reversible schemes
 * ({@link ReversibleSolver}). {@link #begin} builds it at the first time point, {@link #advance}
 * takes one step of it; a block's solution is its first element. For a Runge–Kutta method these are
 * exactly {@link #step}.
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

  /** Tensors carried from one step to the next, z first. */
  public int carried() {
    return 1;
  }

  /** Evaluations of f per step of the carried state ({@link #stages()} for Runge–Kutta). */
  public int evaluationsPerStep() {
    return stages();
  }

  /** Evaluations of f that {@link #begin} makes (none for Runge–Kutta). */
  public int evaluationsToBegin() {
    return 0;
  }

  /**
   * The carried state at time {@code t0} from {@code z0}: {@code [z0]} for a Runge–Kutta method; a
   * scheme that carries more evaluates f here.
   */
  public <S> List<S> begin(StateSpace<S> space, StateSpace.Field<S> f, double t0, S z0) {
    return List.of(z0);
  }

  /** One step of the carried state from {@code t} to {@code t + h}. */
  public <S> List<S> advance(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, List<S> state) {
    return List.of(step(space, f, t, h, state.get(0)));
  }

  /**
   * One step of the carried state with an estimate of its local error in z (elementwise) and, for a
   * first-same-as-last pair, the last stage {@code f(t + h, z')}: the next step's first stage.
   */
  public record Trial(List<Variable> state, double[] error, Variable lastStage) {
    public Trial(List<Variable> state, double[] error) {
      this(state, error, null);
    }
  }

  /** Whether {@link #trial} estimates the local error, as adaptive stepping needs. */
  public boolean estimatesError() {
    return false;
  }

  /**
   * {@link #advance} on Variables with its local error estimate, for the step-size controller; the
   * state it returns is the one {@code advance} would (same arithmetic), so accepted steps replay
   * exactly. {@code firstStage} is {@code f(t, z)} when the caller has it (the previous accepted
   * trial's {@link Trial#lastStage}, or the evaluation the initial step size took), else null; only
   * a {@link #firstSameAsLast} solver uses it.
   */
  public Trial trial(
      StateSpace.Field<Variable> f, double t, double h, List<Variable> state, Variable firstStage) {
    throw new UnsupportedOperationException(
        name() + " estimates no local error: it takes fixed steps only");
  }

  /**
   * Whether the last stage of a step is {@code f(t + h, z')}, the first stage of the next step
   * (Dormand–Prince's FSAL property): the adaptive controller then saves one evaluation per step.
   */
  public boolean firstSameAsLast() {
    return false;
  }

  /** The order of {@link #trial}'s error estimate, for the controller's exponent 1/(q + 1). */
  public int errorOrder() {
    return order() - 1;
  }

  /** One step from {@code (t, y)} of size {@code h} (negative to integrate backwards). */
  public final <S> S step(StateSpace<S> space, StateSpace.Field<S> f, double t, double h, S y) {
    return step(space, f, t, h, y, new ArrayList<>(evaluated), evaluated);
  }

  /**
   * One step that keeps its stage values in {@code k} (for error estimates): stages already in
   * {@code k} (a first-same-as-last first stage) are used as they are, the rest up to {@code n}
   * evaluated.
   */
  protected final <S> S step(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, S y, List<S> k, int n) {
    double[][] a = tableau.a();
    double[] c = tableau.c();
    for (int i = k.size(); i < n; i++) {
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
        double[] scaled = StateSpace.scaled(h, coefficients, terms.size());
        if (scaled == null) {
          return y;
        }
        return Ops.addScaled(y, scaled, terms.toArray(new Variable[0]));
      };

  @Override
  public String toString() {
    return name();
  }
}
