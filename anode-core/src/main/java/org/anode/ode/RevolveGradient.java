package org.anode.ode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Recomputation;

/**
 * ANODE with binomial checkpointing inside the block (ANODE paper §3, following Griewank and
 * Walther's revolve): the forward pass keeps the block input; the backward pass reverses the N_t
 * steps with at most {@code s} states held at once (the input included), advancing without
 * recording between snapshots and recording one step at a time, newest first. Memory {@code O(L) +
 * O(s)} states plus one step's stages; extra step evaluations {@link
 * BinomialSchedule#extraSteps(int, int)}. Gradients equal store-all's to round-off.
 */
public final class RevolveGradient implements GradientMethod {
  private final BinomialSchedule schedule;

  /** Revolve with {@code snapshots} states, the block input counted. */
  public RevolveGradient(int snapshots) {
    this.schedule = new BinomialSchedule(snapshots);
  }

  public int snapshots() {
    return schedule.snapshots();
  }

  @Override
  public Variable integrate(BlockContext block, Variable z0) {
    OdeBlock.Solution forward = block.solveUnrecorded(z0);
    TimeGrid grid = forward.grid();
    Tensor z0Value = z0.value();
    int carried = block.solver().carried();
    return block.checkpointNode(
        z0,
        forward.end().value(),
        (gradOut, needInputGrad) -> {
          // dL/dz(T) is the gradient of the final state's first tensor; the rest carry none.
          List<Tensor> gradEnd = new ArrayList<>(Collections.nCopies(carried, (Tensor) null));
          gradEnd.set(0, gradOut);
          // Every advance of the backward pass re-runs forward steps: batch norm must not move its
          // running statistics again.
          try (Recomputation r = Recomputation.begin()) {
            List<Tensor> g0 =
                reverse(
                    block,
                    grid,
                    0,
                    List.of(z0Value),
                    grid.steps(),
                    gradEnd,
                    false,
                    schedule.snapshots(),
                    needInputGrad);
            return g0 == null ? null : g0.get(0);
          }
        },
        z0Value);
  }

  /**
   * Reverses steps {@code i … j−1} given the solver's carried state {@code zi} at step {@code i}
   * (held in a snapshot; z0 alone at step 0) and the gradients {@code gj} of the state at step
   * {@code j}, with {@code s} snapshots available including {@code zi}'s. Returns the gradients at
   * step {@code i} (null for step 0 when not needed). With {@code ownsGj} the call frees {@code gj}
   * as soon as it is consumed, so that one gradient is alive at a time however deep the recursion
   * (else each level would hold its own: live bytes growing with log N_t).
   */
  private List<Tensor> reverse(
      BlockContext block,
      TimeGrid grid,
      int i,
      List<Tensor> zi,
      int j,
      List<Tensor> gj,
      boolean ownsGj,
      int s,
      boolean needInputGrad) {
    boolean needHere = i > 0 || needInputGrad;
    if (j - i == 1) {
      List<Tensor> gi = block.recomputeAndSweep(grid, i, j, zi, gj, needHere);
      consumed(gj, ownsGj);
      return gi;
    }
    if (s == 1) {
      // Only zi is held: reach each step from it again, newest first.
      List<Tensor> g = gj;
      for (int k = j - 1; k >= i; k--) {
        try (TensorScope scope = TensorScope.open()) {
          List<Tensor> zk = k == i ? zi : block.advanceCarried(zi, grid, i, k);
          List<Tensor> gk = block.recomputeAndSweep(grid, k, k + 1, zk, g, k > i || needHere);
          consumed(g, g != gj || ownsGj); // the gradients at step k+1
          if (gk != null) {
            gk.forEach(t -> keep(scope, t));
          }
          g = gk;
        }
      }
      return g;
    }
    int m = i + schedule.split(j - i, s);
    MemoryMeter meter = Tape.currentMeter();
    try (TensorScope scope = TensorScope.open()) {
      List<Tensor> zm = block.advanceCarried(zi, grid, i, m);
      for (Tensor t : zm) {
        meter.retain(t);
        meter.markCheckpoint(t);
      }
      List<Tensor> gm;
      try {
        gm = reverse(block, grid, m, zm, j, gj, ownsGj, s - 1, true);
      } finally {
        zm.forEach(meter::release);
      }
      zm.forEach(Tensor::close);
      List<Tensor> gi = reverse(block, grid, i, zi, m, gm, true, s, needInputGrad);
      if (gi != null) {
        gi.forEach(t -> keep(scope, t));
      }
      return gi;
    }
  }

  private static void keep(TensorScope scope, Tensor t) {
    if (t != null) {
      scope.keep(t);
    }
  }

  /**
   * Frees gradients read for the last time: this method's own, or else the one the sweep handed to
   * the block ({@link Tape#lastRead}), which would otherwise live until the block's whole backward
   * has ended.
   */
  private static void consumed(List<Tensor> gs, boolean owned) {
    for (Tensor g : gs) {
      if (g == null) {
        continue;
      }
      if (owned) {
        g.close();
      } else {
        Tape.lastRead(g);
      }
    }
  }

  @Override
  public String name() {
    return "revolve:" + schedule.snapshots();
  }

  @Override
  public String toString() {
    return name();
  }
}
