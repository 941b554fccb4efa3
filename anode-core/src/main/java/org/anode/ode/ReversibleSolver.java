package org.anode.ode;

import java.util.List;

/**
 * A solver whose step on the carried state can be inverted exactly (up to round-off): from the
 * state after a step, {@link #inverse} rebuilds the state before it with as many evaluations of f
 * as the step took. {@link ReversibleGradient} runs the backward pass on that, keeping only the
 * block's final state, so its memory does not grow with the number of steps.
 *
 * <p>Its tableau is the scheme restarted from z alone (the one step {@link #step} takes when no
 * carried state is at hand), which the continuous adjoint does not use: it integrates with {@link
 * #begin} and {@link #advance} like a block.
 */
public abstract class ReversibleSolver extends Solver {

  protected ReversibleSolver(ButcherTableau restart) {
    super(restart);
  }

  /**
   * The carried state before the step from {@code t} to {@code t + h}, from the state {@code after}
   * it. Its evaluations of f repeat those of step {@code i + }{@link #inverseRepeatsStep()} of the
   * forward pass (for the same random draws), where {@code i} is the step inverted.
   */
  public abstract <S> List<S> inverse(
      StateSpace<S> space, StateSpace.Field<S> f, double t, double h, List<S> after);

  /**
   * Which forward step's evaluation an inverse repeats, relative to the step inverted: 0 when it
   * re-evaluates f where that step did, −1 when where the step before it did (−1 for the first step
   * means {@link #begin}).
   */
  public abstract int inverseRepeatsStep();

  @Override
  public int evaluationsPerStep() {
    return 1;
  }

  @Override
  public int evaluationsToBegin() {
    return 1;
  }
}
