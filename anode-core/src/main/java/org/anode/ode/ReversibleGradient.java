package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Tensor;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Recomputation;

/**
 * The gradient of the discrete forward pass through an algebraically reversible solver ({@link
 * AsynchronousLeapfrog}, {@link ReversibleHeun}) without storing or recomputing the trajectory: the
 * forward pass keeps only the block's final carried state; the backward pass rebuilds each step's
 * input from its output by the solver's inverse and backpropagates through that one step on an
 * inner tape, newest step first, then through the solver's start from z0 (MALI, Zhuang et al. 2021,
 * §3.2, Algorithm 3; Kidger et al. 2021, §3).
 *
 * <p>Memory: the final carried state per block ({@link Solver#carried()} × |z|) plus, during a
 * block's backward, two carried states, their gradients and one step's tape — independent of N_t.
 * Cost: one extra evaluation of f per step (the inverse) over ANODE. The gradient is exact for the
 * trajectory the inverse rebuilds, which differs from the forward one by round-off only as long as
 * the inverse is stable; the rebuilt z(0) shows how far it drifted.
 */
public final class ReversibleGradient implements GradientMethod {

  @Override
  public Variable integrate(BlockContext block, Variable z0) {
    if (!(block.solver() instanceof ReversibleSolver)) {
      throw new IllegalArgumentException(
          "gradient method reversible needs a reversible solver (alf, reversible-heun), got "
              + block.solver());
    }
    // Fixed steps, or the accepted steps of an adaptive solve (ALF with MALI's error estimate).
    BlockContext.CarriedSolution forward = block.solveCarried(z0);
    TimeGrid grid = forward.grid();
    List<Tensor> end = forward.state();
    Variable out =
        block.checkpointNode(
            z0,
            end.get(0),
            (gradOut, needInputGrad) -> {
              try (Recomputation r = Recomputation.begin()) {
                return reverse(block, grid, end, gradOut);
              }
            },
            end.toArray(new Tensor[0]));
    for (int c = 1; c < end.size(); c++) {
      Tape.releaseIntermediate(end.get(c)); // no caller sees v(T): the tape frees it after backward
    }
    return out;
  }

  /** Steps back from the final state {@code end} (the node's) with dL/dz(T) = {@code gradOut}. */
  private static Tensor reverse(
      BlockContext block, TimeGrid grid, List<Tensor> end, Tensor gradOut) {
    List<Tensor> state = end;
    List<Tensor> grads = new ArrayList<>();
    grads.add(gradOut);
    for (int c = 1; c < end.size(); c++) {
      grads.add(null);
    }
    for (int i = grid.steps() - 1; i >= 0; i--) {
      List<Tensor> before = block.inverse(grid, i, state);
      release(state, state == end);
      List<Tensor> gradBefore = block.sweepStep(grid, i, before, grads);
      release(grads, grads.get(0) == gradOut);
      state = before;
      grads = gradBefore;
    }
    Tensor gz0 = block.sweepBegin(grid, state.get(0), grads);
    release(grads, grads.get(0) == gradOut);
    release(state, state == end);
    return gz0;
  }

  /**
   * Frees tensors read for the last time: the node's own (its saved final state, the gradient the
   * sweep handed it) through {@link Tape#lastRead}, which frees them unless someone else holds
   * them; this method's by closing them.
   */
  private static void release(List<Tensor> tensors, boolean nodes) {
    for (Tensor t : tensors) {
      if (t == null) {
        continue;
      }
      if (nodes) {
        Tape.lastRead(t);
      } else {
        t.close();
      }
    }
  }

  @Override
  public String name() {
    return "reversible";
  }

  @Override
  public String toString() {
    return name();
  }
}
