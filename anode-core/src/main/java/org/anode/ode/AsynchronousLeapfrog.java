package org.anode.ode;

import java.util.List;

/**
 * The asynchronous leapfrog integrator (ALF) of MALI: Zhuang, Dvornek, Tatikonda, Duncan, "MALI: A
 * memory efficient and reverse accurate integrator for Neural ODEs", ICLR 2021, §3, Algorithms 1
 * and 2, with damping η (their eq. 8). It carries (z, v), v an estimate of f, starting from {@code
 * v0 = f(t0, z0)}, and takes one evaluation of f per step:
 *
 * <pre>
 *   s = z + h/2 · v,   u = f(t + h/2, s),   v' = v + 2η·(u − v),   z' = s + h/2 · v'
 * </pre>
 *
 * Inverse (same evaluation): {@code s = z' − h/2·v'}, {@code u = f(t + h/2, s)}, {@code v = (v' −
 * 2η·u)/(1 − 2η)}, {@code z = s − h/2·v}. η = 1 is the undamped ALF (order 2); η in (0, 1], η ≠ 1/2
 * (there v' forgets v and the step cannot be inverted). Restarted from z alone the step is the
 * Runge–Kutta method {@code z + h·((1 − η)·f(t, z) + η·f(t + h/2, z + h/2·f(t, z)))}.
 */
public final class AsynchronousLeapfrog extends ReversibleSolver {
  private final double eta;

  /** Undamped ALF (η = 1). */
  public AsynchronousLeapfrog() {
    this(1.0);
  }

  /** ALF with damping {@code eta} in (0, 1], not 1/2. */
  public AsynchronousLeapfrog(double eta) {
    super(restart(checkEta(eta)));
    this.eta = eta;
  }

  private static double checkEta(double eta) {
    if (!(eta > 0 && eta <= 1) || eta == 0.5) {
      throw new IllegalArgumentException(
          "alf: the damping η must be in (0, 1] and not 1/2 (not invertible there), got " + eta);
    }
    return eta;
  }

  private static ButcherTableau restart(double eta) {
    return new ButcherTableau(
        new double[][] {{}, {0.5}}, new double[] {1 - eta, eta}, new double[] {0, 0.5});
  }

  public double eta() {
    return eta;
  }

  @Override
  public String name() {
    return eta == 1.0 ? "alf" : "alf(η=" + eta + ")";
  }

  @Override
  public int order() {
    return eta == 1.0 ? 2 : 1;
  }

  @Override
  public int carried() {
    return 2;
  }

  @Override
  public <S> List<S> begin(StateSpace<S> space, StateSpace.Field<S> f, double t0, S z0) {
    return List.of(z0, f.evaluate(t0, z0));
  }

  @Override
  public <S> List<S> advance(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, List<S> state) {
    return stepWithStage(space, f, t, h, state).next();
  }

  private record Stepped<S>(List<S> next, S u) {}

  private <S> Stepped<S> stepWithStage(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, List<S> state) {
    S z = state.get(0);
    S v = state.get(1);
    S s = space.combine(z, h, new double[] {0.5}, List.of(v));
    S u = f.evaluate(t + h / 2, s);
    S vNext = space.combine(v, 1, new double[] {2 * eta, -2 * eta}, List.of(u, v));
    S zNext = space.combine(s, h, new double[] {0.5}, List.of(vNext));
    return new Stepped<>(List.of(zNext, vNext), u);
  }

  @Override
  public boolean estimatesError() {
    return true;
  }

  /**
   * {@link #advance} with MALI's local error estimate {@code h·(u − v)}: the difference between the
   * midpoint evaluation u and the carried estimate v of f, times the step. MALI (Zhuang et al.
   * 2021) estimates ALF's local error from u − v; its reference implementation, TorchDiffEqPack,
   * first scaled it by h/2 and changed that to h in commit 5a22bef ("fix error estimation in MALI",
   * 2021-08-10, {@code TorchDiffEqPack/odesolver/symplectic.py}). With h/2 the controller accepted
   * steps whose error was twice the tolerance.
   */
  @Override
  public Trial trial(
      StateSpace.Field<org.anode.autodiff.Variable> f,
      double t,
      double h,
      List<org.anode.autodiff.Variable> state,
      org.anode.autodiff.Variable firstStage) {
    Stepped<org.anode.autodiff.Variable> s = stepWithStage(VARIABLES, f, t, h, state);
    double[] u = s.u().value().toDoubleArray();
    double[] v = state.get(1).value().toDoubleArray();
    double[] err = new double[u.length];
    for (int i = 0; i < err.length; i++) {
      err[i] = h * (u[i] - v[i]);
    }
    return new Trial(s.next(), err);
  }

  @Override
  public int errorOrder() {
    return 1;
  }

  @Override
  public <S> List<S> inverse(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, List<S> after) {
    S zNext = after.get(0);
    S vNext = after.get(1);
    S s = space.combine(zNext, h, new double[] {-0.5}, List.of(vNext));
    S u = f.evaluate(t + h / 2, s);
    double w = 2 * eta / (1 - 2 * eta);
    S v = space.combine(vNext, 1, new double[] {w, -w}, List.of(vNext, u));
    S z = space.combine(s, h, new double[] {-0.5}, List.of(v));
    return List.of(z, v);
  }

  @Override
  public int inverseRepeatsStep() {
    return 0;
  }
}
