package org.anode.train;

import java.util.function.Supplier;
import org.anode.api.LiveMemory;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Module;

/**
 * One training step, written once for every caller ({@link Trainer}, {@code anode bench}, a
 * distributed trainer): the input made inside the step's scope, forward, the loss, ONE backward
 * sweep, the caller's checks, the optimizer's update, gradients cleared; both memory meters read
 * around it (the tape's saved bytes and the live bytes above what was live before the step).
 * Everything the step allocated is freed when it returns.
 */
public final class TrainingStep {
  private final Module model;
  private final Optimizer optimizer;

  public TrainingStep(Module model, Optimizer optimizer) {
    this.model = model;
    this.optimizer = optimizer;
  }

  /** The loss of the model's output; it may also read the output (to count correct answers). */
  @FunctionalInterface
  public interface Objective {
    Variable loss(Variable output);
  }

  /**
   * Cross-entropy of the output against {@code labels}, the output's top-1 hits counted into {@code
   * hits[0]}: a classifier's training objective.
   */
  public static Objective crossEntropy(int[] labels, int[] hits) {
    return crossEntropy(labels, hits, 0.0);
  }

  /** As {@link #crossEntropy(int[], int[])}, against labels smoothed by {@code smoothing}. */
  public static Objective crossEntropy(int[] labels, int[] hits, double smoothing) {
    return logits -> {
      hits[0] = Evaluation.correct(logits.value(), labels);
      return CrossEntropyLoss.of(logits, labels, smoothing);
    };
  }

  /** Checks run around the update (finite gradients before it, finite parameters after it). */
  public interface Checks {
    default void beforeUpdate() {}

    default void afterUpdate() {}
  }

  /** What one step measured. */
  public record Outcome(double loss, long peakSavedBytes, long peakLiveBytes) {}

  /**
   * Runs one step at learning rate {@code lr}. A loss that is not finite stops the step before the
   * backward pass with a {@link NonFiniteException} naming {@code where}.
   */
  public Outcome run(
      Supplier<Tensor> input, Objective objective, double lr, String where, Checks checks) {
    MemoryMeter meter = new MemoryMeter();
    long liveBefore = LiveMemory.currentBytes();
    LiveMemory.resetPeak();
    double l;
    try (TensorScope scope = TensorScope.open();
        Tape tape = Tape.record(meter)) {
      Variable output = model.forward(Variable.constant(input.get()));
      Variable loss = objective.loss(output);
      // Nobody reads the output again: freed now unless the loss saved it for its backward.
      Tape.releaseIntermediate(output.value());
      l = loss.value().item();
      if (!Double.isFinite(l)) {
        throw new NonFiniteException(where + ": loss is " + l);
      }
      tape.backward(loss);
      checks.beforeUpdate();
      optimizer.step(model.parameters(), lr);
      model.zeroGrad();
      checks.afterUpdate();
    }
    return new Outcome(l, meter.peakBytes(), LiveMemory.peakBytes() - liveBefore);
  }
}
