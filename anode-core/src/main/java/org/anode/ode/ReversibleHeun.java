package org.anode.ode;

import java.util.List;

/**
 * The reversible Heun method: Kidger, Foster, Li, Lyons, "Efficient and Accurate Gradients for
 * Neural SDEs", NeurIPS 2021, §3, Algorithms 1 and 2, here for an ODE (no noise term). It carries
 * (y, ŷ, f(ŷ)), starting from {@code ŷ0 = y0}, and takes one evaluation of f per step:
 *
 * <pre>
 *   ŷ' = 2y − ŷ + h·f(t, ŷ),   y' = y + h/2·(f(t, ŷ) + f(t + h, ŷ'))
 * </pre>
 *
 * Inverse: {@code ŷ = 2y' − ŷ' − h·f(t + h, ŷ')}, {@code y = y' − h/2·(f(t, ŷ) + f(t + h, ŷ'))},
 * which evaluates f at ŷ — the point the step before evaluated. Order 2. Restarted from y alone the
 * step is Heun's method.
 */
public final class ReversibleHeun extends ReversibleSolver {

  public ReversibleHeun() {
    super(
        new ButcherTableau(new double[][] {{}, {1}}, new double[] {0.5, 0.5}, new double[] {0, 1}));
  }

  @Override
  public String name() {
    return "reversible-heun";
  }

  @Override
  public int order() {
    return 2;
  }

  @Override
  public int carried() {
    return 3;
  }

  @Override
  public <S> List<S> begin(StateSpace<S> space, StateSpace.Field<S> f, double t0, S y0) {
    return List.of(y0, y0, f.evaluate(t0, y0));
  }

  @Override
  public <S> List<S> advance(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, List<S> state) {
    S y = state.get(0);
    S yHat = state.get(1);
    S fHat = state.get(2);
    S yHatNext = space.combine(y, 1, new double[] {1, -1, h}, List.of(y, yHat, fHat));
    S fNext = f.evaluate(t + h, yHatNext);
    S yNext = space.combine(y, h, new double[] {0.5, 0.5}, List.of(fHat, fNext));
    return List.of(yNext, yHatNext, fNext);
  }

  @Override
  public <S> List<S> inverse(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, List<S> after) {
    S yNext = after.get(0);
    S yHatNext = after.get(1);
    S fNext = after.get(2);
    S yHat = space.combine(yNext, 1, new double[] {1, -1, -h}, List.of(yNext, yHatNext, fNext));
    S fHat = f.evaluate(t, yHat);
    S y = space.combine(yNext, h, new double[] {-0.5, -0.5}, List.of(fHat, fNext));
    return List.of(y, yHat, fHat);
  }

  @Override
  public int inverseRepeatsStep() {
    return -1;
  }
}
