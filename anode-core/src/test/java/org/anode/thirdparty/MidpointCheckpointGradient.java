package org.anode.thirdparty;

import org.anode.api.Tensor;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.ode.BlockContext;
import org.anode.ode.GradientMethod;
import org.anode.ode.TimeGrid;

/**
 * A gradient method written outside anode's packages with nothing but the public {@link
 * BlockContext}: ANODE with a second checkpoint halfway through the block, so that its backward
 * recomputes two halves (memory {@code |z| + N_t/2} steps instead of {@code N_t}). Fixed steps
 * only.
 */
public final class MidpointCheckpointGradient implements GradientMethod {

  @Override
  public Variable integrate(BlockContext block, Variable z0) {
    TimeGrid grid = block.fixedGrid();
    int n = grid.steps();
    int mid = n / 2;
    Tensor zMid;
    Tensor end;
    try (Tape.Pause off = Tape.pause()) {
      zMid = block.advance(Variable.constant(z0.value()), grid, 0, mid).value();
      end = block.advance(Variable.constant(zMid), grid, mid, n).value();
    }
    Tensor z0Value = z0.value();
    return block.checkpointNode(
        z0,
        end,
        (gradOut, needInputGrad) -> {
          Tensor gMid = block.recomputeAndSweep(grid, mid, n, zMid, gradOut, true);
          Tape.lastRead(gradOut);
          zMid.close();
          Tensor g0 = block.recomputeAndSweep(grid, 0, mid, z0Value, gMid, needInputGrad);
          gMid.close();
          return g0;
        },
        z0Value,
        zMid);
  }

  @Override
  public String name() {
    return "midpoint-checkpoint";
  }
}
