package org.anode.ode;

import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Segment;
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
 *
 * <p>The most recent block is kept recorded (by default, for fixed steps): its forward pass runs on
 * a {@link Segment} that stays alive until something saved after it would take the tape's meter to
 * a new peak, or the next checkpointed block starts. A block that ends the network is then swept
 * directly instead of recomputed — the saving of {@code
 * torch.utils.checkpoint.checkpoint_sequential} leaving its last segment unchecked — and the peak
 * never exceeds that of recomputing every block ({@link Segment#closeBeforeNewPeak()}). For a stack
 * of L blocks recomputation falls from L to L − 1 blocks. {@link #recomputingEveryBlock()} gives
 * the paper's Algorithm 1 literally.
 */
public final class CheckpointedGradient implements GradientMethod {
  /** The kept segment of this thread's latest checkpointed block, if still open. */
  private static final ThreadLocal<Segment> MOST_RECENT = new ThreadLocal<>();

  private final boolean keepMostRecent;

  /** ANODE, keeping the most recent block recorded. */
  public CheckpointedGradient() {
    this(true);
  }

  private CheckpointedGradient(boolean keepMostRecent) {
    this.keepMostRecent = keepMostRecent;
  }

  /** ANODE exactly as Algorithm 1: every block recomputed in the backward pass. */
  public static CheckpointedGradient recomputingEveryBlock() {
    return new CheckpointedGradient(false);
  }

  /** Whether the most recent block is kept recorded rather than recomputed. */
  public boolean keepsMostRecent() {
    return keepMostRecent;
  }

  @Override
  public Variable integrate(OdeBlock block, Variable z0) {
    Variable[] inputs = block.inputsWithParameters(z0);
    // Whatever this block does, the previous block's kept segment is no longer the most recent.
    Segment previous = MOST_RECENT.get();
    if (previous != null) {
      previous.close();
      MOST_RECENT.remove();
    }
    Tensor z0Value = z0.value();
    TimeGrid grid;
    Tensor end;
    Segment kept = null;
    if (keepMostRecent
        && Tape.current() != null
        && !Recomputation.active()
        && block.stepping() instanceof Stepping.Fixed
        && anyRequiresGrad(inputs)) {
      // Recorded on a segment that the backward sweeps directly if it is still open then.
      grid = block.fixedGrid();
      kept =
          Segment.record(z0Value, z0.requiresGrad(), z -> block.advance(z, grid, 0, grid.steps()));
      Tape.current().closeWithTape(kept);
      MOST_RECENT.set(kept);
      end = kept.output();
    } else {
      OdeBlock.Solution forward = block.solveUnrecorded(z0);
      grid = forward.grid();
      end = forward.end().value();
    }
    Segment steps = kept;
    Variable out =
        Ops.function(
            end,
            inputs,
            new Tensor[] {z0Value},
            (gradOut, needs) -> {
              Tensor[] grads = new Tensor[inputs.length];
              grads[0] =
                  steps != null && steps.isOpen()
                      ? steps.backward(gradOut)
                      : block.inBackward(
                          () -> recomputeAndSweep(block, grid, z0Value, gradOut, needs[0]));
              return grads;
            });
    OdeBlock.markCheckpoint(out, z0Value);
    if (kept != null) {
      kept.closeBeforeNewPeak();
    }
    return out;
  }

  private static boolean anyRequiresGrad(Variable[] inputs) {
    for (Variable v : inputs) {
      if (v.requiresGrad()) {
        return true;
      }
    }
    return false;
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
      Segment steps =
          Segment.record(z, needInputGrad, start -> block.advance(start, grid, from, to));
      steps.releaseOutput(); // z(t_to) is known already: only the sweep is wanted
      Tensor g = steps.backward(gradOut);
      return g == null ? null : scope.keep(g);
    }
  }

  @Override
  public String name() {
    return keepMostRecent ? "anode" : "anode-recompute-all";
  }

  @Override
  public String toString() {
    return name();
  }
}
