package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongBinaryOperator;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Module;
import org.anode.nn.Recomputation;

/**
 * Picks a gradient method for every ODE block of a model from a memory budget: store-all if its
 * predicted peak fits, else ANODE, else (reversible solvers) the reversible method, else revolve
 * with the largest number of snapshots that fits (solvers that carry only z).
 *
 * <p>The prediction uses quantities measured on the model itself, for the given input shape: the
 * bytes the ordinary layers save ({@code B}), and for each block its state {@code |z_l|}, its steps
 * {@code N_l} and the bytes one recorded solver step saves ({@code S_l}). Then (see {@code
 * MemoryLawTest} for the exact versions on a stack of blocks):
 *
 * <pre>
 *   store-all   B + Σ N_l·S_l
 *   ANODE       B + Σ |z_l| + max (N_l·S_l − |z_l|)
 *   revolve(s)  B + Σ |z_l| + (s − 1)·max |z_l| + max S_l
 * </pre>
 *
 * The recomputation factor is the number of solver steps run per step of the forward solution: 1
 * for store-all, at most 2 for ANODE (less when the last block is kept recorded: {@link
 * CheckpointedGradient}), {@code 2 + extra(N, s)/N} for revolve. The measurements run inside a
 * {@link Recomputation}, so batch-norm statistics are untouched.
 */
public final class MemoryBudget {
  private MemoryBudget() {}

  /** One candidate: the method, its predicted peak of saved bytes and its recomputation factor. */
  public record Option(String method, long predictedBytes, double recomputationFactor) {}

  /** The choice, with every candidate considered (cheapest recomputation first). */
  public record Advice(
      String method, long predictedBytes, double recomputationFactor, List<Option> considered) {

    /** Sets the chosen method on every ODE block of {@code model}. */
    public void apply(Module model) {
      for (OdeBlock b : blocks(model)) {
        b.setMethod(GradientMethod.named(method));
      }
    }
  }

  /** Every ODE block in {@code model}, depth first. */
  public static List<OdeBlock> blocks(Module model) {
    List<OdeBlock> out = new ArrayList<>();
    collect(model, out);
    return out;
  }

  private static void collect(Module m, List<OdeBlock> out) {
    if (m instanceof OdeBlock b) {
      out.add(b);
    }
    m.children().values().forEach(c -> collect(c, out));
  }

  /** Chooses for {@code model} on inputs of {@code inputShape} within {@code budgetBytes}. */
  public static Advice advise(
      Module model, Backend backend, Shape inputShape, DType dtype, long budgetBytes) {
    return advise(model, backend, inputShape, dtype, budgetBytes, 0);
  }

  /**
   * As {@link #advise(Module, Backend, Shape, DType, long)}, for a step whose loss saves {@code
   * lossSavedBytes} on the tape (½·mean(y²) keeps y, cross-entropy its probabilities). The loss's
   * tensors are held from the end of the forward pass until the loss's backward, the first node
   * swept, frees them; so they add to what every method holds at the end of the forward pass, not
   * to the recomputation of a block that comes after.
   */
  public static Advice advise(
      Module model,
      Backend backend,
      Shape inputShape,
      DType dtype,
      long budgetBytes,
      long lossSavedBytes) {
    List<OdeBlock> blocks = blocks(model);
    if (blocks.isEmpty()) {
      throw new IllegalArgumentException("MemoryBudget: the model has no ODE block");
    }
    List<GradientMethod> saved = new ArrayList<>();
    blocks.forEach(b -> saved.add(b.method()));
    long ordinary;
    long sumZ = 0;
    long maxZ = 0;
    long storeAll = 0;
    long anodeExtra = 0;
    long maxStep = 0;
    int maxSteps = 0;
    try (TensorScope scope = TensorScope.open();
        Recomputation r = Recomputation.begin()) {
      // Probe: every block checkpointed, so the tape holds the ordinary layers' bytes plus the
      // block inputs after the forward pass.
      blocks.forEach(b -> b.setMethod(CheckpointedGradient.recomputingEveryBlock()));
      MemoryMeter meter = new MemoryMeter();
      try (Tape tape = Tape.record(meter)) {
        model.forward(Variable.leaf(backend.zeros(inputShape, dtype)));
        long total = meter.currentBytes();
        for (OdeBlock b : blocks) {
          long z = b.lastInputShape().bytes(dtype);
          sumZ += z;
          maxZ = Math.max(maxZ, z);
        }
        ordinary = Math.max(0, total - sumZ);
      }
      for (OdeBlock b : blocks) {
        long z = b.lastInputShape().bytes(dtype);
        // One recorded step, and two: their difference is a step; what is left of one, the start
        // of the solver's carried state (0 for Runge–Kutta, f(z0) for ALF and reversible Heun).
        long one = stepBytes(b, backend, dtype, 1);
        long step = b.solver().carried() == 1 ? one : stepBytes(b, backend, dtype, 2) - one;
        long start = one - step;
        int n = b.steps();
        storeAll += start + n * step;
        anodeExtra = Math.max(anodeExtra, start + n * step - z);
        maxStep = Math.max(maxStep, start + step);
        maxSteps = Math.max(maxSteps, n);
      }
    } finally {
      for (int i = 0; i < blocks.size(); i++) {
        blocks.get(i).setMethod(saved.get(i));
      }
    }
    List<Option> options = new ArrayList<>();
    // Every method holds the ordinary layers' bytes and what it kept of the blocks at the end of
    // the
    // forward pass; the loss's tensors overlap with that, and are freed before any recomputation.
    long base = ordinary;
    LongBinaryOperator peak =
        (held, recomputed) -> base + held + Math.max(lossSavedBytes, recomputed);
    options.add(new Option("store-all", peak.applyAsLong(storeAll, 0), 1.0));
    options.add(new Option("anode", peak.applyAsLong(sumZ, anodeExtra), 2.0));
    int carried = blocks.stream().mapToInt(b -> b.solver().carried()).max().orElse(1);
    if (blocks.stream().allMatch(b -> b.solver() instanceof ReversibleSolver)) {
      // The final carried state of every block, and one step's tape: flat in N_t. Each step runs
      // three times: forward, inverse, and recorded for its sweep.
      options.add(new Option("reversible", peak.applyAsLong(carried * sumZ, maxStep), 3.0));
    }
    for (int s = Math.max(1, maxSteps - 1); s >= 1; s--) {
      double factor = 2.0 + (double) BinomialSchedule.extraSteps(maxSteps, s) / maxSteps;
      // A snapshot holds the solver's whole carried state (z, or z with v for ALF, ...).
      options.add(
          new Option(
              "revolve:" + s, peak.applyAsLong(sumZ, (s - 1) * carried * maxZ + maxStep), factor));
    }
    for (Option o : options) {
      if (o.predictedBytes() <= budgetBytes) {
        return new Advice(o.method(), o.predictedBytes(), o.recomputationFactor(), options);
      }
    }
    throw new IllegalArgumentException(
        "MemoryBudget: no gradient method fits in "
            + budgetBytes
            + " bytes for input "
            + inputShape
            + " "
            + dtype
            + "; the smallest, "
            + options.get(options.size() - 1)
            + ", needs more");
  }

  /**
   * Predicts the live bytes a training step of {@code model} adds at {@code input}'s batch (peak
   * {@link LiveMemory} above what is live before the step: activations, temporaries and the
   * parameters' gradients), with the gradient methods it has now. Two probe steps at batch 2 and 4
   * (forward, backward from the sum of the outputs, inside a {@link Recomputation} so that batch
   * norm keeps its statistics; the gradients are then cleared) are extrapolated linearly in the
   * batch: activations grow with it, gradients of parameters do not. Resets the live meter's peak.
   */
  public static long predictLivePeak(Module model, Backend backend, Shape input, DType dtype) {
    int batch = input.dim(0);
    long p2 = probeLivePeak(model, backend, input.with(0, 2), dtype);
    long p4 = probeLivePeak(model, backend, input.with(0, 4), dtype);
    double perImage = (p4 - p2) / 2.0;
    return Math.max(p2, Math.round(p2 + perImage * (batch - 2)));
  }

  private static long probeLivePeak(Module model, Backend backend, Shape input, DType dtype) {
    try (TensorScope scope = TensorScope.open();
        Recomputation r = Recomputation.begin()) {
      Tensor x = backend.zeros(input, dtype);
      long before = LiveMemory.currentBytes();
      LiveMemory.resetPeak();
      try (TensorScope step = TensorScope.open();
          Tape tape = Tape.record()) {
        tape.backward(Ops.sum(model.forward(Variable.constant(x)), false));
      }
      long peak = LiveMemory.peakBytes() - before;
      model.zeroGrad();
      return peak;
    }
  }

  /** Bytes that {@code steps} recorded solver steps of {@code block} save, on a zero state. */
  private static long stepBytes(OdeBlock block, Backend backend, DType dtype, int steps) {
    MemoryMeter meter = new MemoryMeter();
    try (TensorScope scope = TensorScope.open();
        Tape tape = Tape.record(meter)) {
      Variable z = Variable.leaf(backend.zeros(block.lastInputShape(), dtype));
      block.advance(z, TimeGrid.uniform(block.startTime(), block.endTime(), steps, 0), 0, steps);
      return meter.currentBytes();
    }
  }
}
