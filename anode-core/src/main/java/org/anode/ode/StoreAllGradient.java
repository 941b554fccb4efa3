package org.anode.ode;

import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Recomputation;

/**
 * Discretize-then-optimize with everything stored: every operation of every stage of every step is
 * recorded on the tape, and the backward pass sweeps through all of it. Memory {@code
 * O(L·N_t·k·S_f)}; the reference that the other methods are checked against.
 */
public final class StoreAllGradient implements GradientMethod {

  @Override
  public Variable integrate(BlockContext block, Variable z0) {
    if (block.fixedSteps()) {
      TimeGrid grid = block.fixedGrid();
      return block.advance(z0, grid, 0, grid.steps());
    }
    if (Tape.current() == null) {
      return block.solveUnrecorded(z0).end();
    }
    // Adaptive: find the accepted steps first, then replay them on the tape. The replay is a
    // recomputation of the same steps: it must not move batch-norm statistics again.
    TimeGrid grid = block.solveUnrecorded(z0).grid();
    try (Recomputation r = Recomputation.begin()) {
      return block.advance(z0, grid, 0, grid.steps());
    }
  }

  @Override
  public String name() {
    return "store-all";
  }

  @Override
  public String toString() {
    return name();
  }
}
