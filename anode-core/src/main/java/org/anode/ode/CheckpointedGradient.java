package org.anode.ode;

import org.anode.api.Tensor;
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
  public Variable integrate(BlockContext block, Variable z0) {
    // Whatever this block does, the previous block's kept segment is no longer the most recent.
    block.keepLatest(null);
    Tensor z0Value = z0.value();
    TimeGrid grid;
    Tensor end;
    Segment kept = null;
    if (keepMostRecent
        && Tape.current() != null
        && !Recomputation.active()
        && block.fixedSteps()
        && anyRequiresGrad(z0, block)) {
      // Recorded on a segment that the backward sweeps directly if it is still open then.
      TimeGrid fixed = block.fixedGrid();
      grid = fixed;
      kept =
          Segment.record(
              z0Value, z0.requiresGrad(), z -> block.advance(z, fixed, 0, fixed.steps()));
      block.keepLatest(kept);
      end = kept.output();
    } else {
      OdeBlock.Solution forward = block.solveUnrecorded(z0);
      grid = forward.grid();
      end = forward.end().value();
    }
    Segment steps = kept;
    Variable out =
        block.checkpointNode(
            z0,
            end,
            (gradOut, needInputGrad) ->
                steps != null && steps.isOpen()
                    ? steps.backward(gradOut)
                    : block.recomputeAndSweep(
                        grid, 0, grid.steps(), z0Value, gradOut, needInputGrad),
            z0Value);
    if (kept != null) {
      kept.closeBeforeNewPeak();
    }
    return out;
  }

  private static boolean anyRequiresGrad(Variable z0, BlockContext block) {
    if (z0.requiresGrad()) {
      return true;
    }
    for (Variable p : block.parameters()) {
      if (p.requiresGrad()) {
        return true;
      }
    }
    return false;
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
