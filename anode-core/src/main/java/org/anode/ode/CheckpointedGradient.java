package org.anode.ode;

import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Recomputation;

/**
 * ANODE (Gholami, Keutzer, Biros 2019, §3, Algorithm 1): discretize-then-optimize with
 * checkpointing at block boundaries. The forward pass solves without recording and keeps only the
 * block's input z(0) — one node on the outer tape. Its backward recomputes the block's N_t steps on
 * an inner tape (the same steps: a fixed grid or the accepted steps of an adaptive solve) and
 * sweeps it ONCE, which yields dL/dz(0) and adds dL/dθ into the parameters' gradients together (the
 * PyTorch reference sweeps twice).
 *
 * <p>Memory: {@code L·|z|} block inputs plus one block's {@code N_t·k·S_f} during its backward.
 * Batch norm inside f sees the same batch statistics on recomputation and does not move its running
 * estimates again ({@link Recomputation}).
 */
public final class CheckpointedGradient implements GradientMethod {

  @Override
  public Variable integrate(OdeBlock block, Variable z0) {
    OdeBlock.Solution forward = block.solveUnrecorded(z0);
    TimeGrid grid = forward.grid();
    Variable[] inputs = block.inputsWithParameters(z0);
    Tensor z0Value = z0.value();
    Variable out =
        Ops.function(
            forward.end().value(),
            inputs,
            new Tensor[] {z0Value},
            (gradOut, needs) -> {
              Tensor[] grads = new Tensor[inputs.length];
              grads[0] =
                  block.inBackward(
                      () -> recomputeAndSweep(block, grid, z0Value, gradOut, needs[0]));
              return grads;
            });
    OdeBlock.markCheckpoint(out, z0Value);
    return out;
  }

  /**
   * Recomputes the block from {@code z0} on an inner tape and sweeps it once from {@code gradOut};
   * parameters' gradients accumulate, and dL/dz0 is returned when {@code needInputGrad}.
   */
  static Tensor recomputeAndSweep(
      OdeBlock block, TimeGrid grid, Tensor z0, Tensor gradOut, boolean needInputGrad) {
    return recomputeAndSweep(block, grid, 0, grid.steps(), z0, gradOut, needInputGrad);
  }

  /** As above for steps {@code from} to {@code to − 1} only. */
  static Tensor recomputeAndSweep(
      OdeBlock block,
      TimeGrid grid,
      int from,
      int to,
      Tensor z,
      Tensor gradOut,
      boolean needInputGrad) {
    try (TensorScope scope = TensorScope.open();
        Recomputation r = Recomputation.begin()) {
      Variable start = needInputGrad ? Variable.leaf(z) : Variable.constant(z);
      try (Tape inner = Tape.record()) {
        Variable end = block.advance(start, grid, from, to);
        inner.backward(end, gradOut);
      }
      if (!needInputGrad) {
        return null;
      }
      Tensor g = scope.keep(start.grad().backend().copy(start.grad()));
      start.zeroGrad();
      return g;
    }
  }

  @Override
  public String name() {
    return "anode";
  }

  @Override
  public String toString() {
    return name();
  }
}
