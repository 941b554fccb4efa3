package org.anode.nn;

import org.anode.api.Backend;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/**
 * Mean cross-entropy of class logits {@code [N, K]} against integer labels, via log-softmax.
 *
 * <p>The label's log-probability is <em>picked</em> ({@code where(label mask, log p, 0)}), not
 * multiplied by a one-hot matrix: a log-softmax may be −∞ for a class far below the others (float32
 * underflow), and −∞ × 0 would turn a finite loss into NaN.
 */
public final class CrossEntropyLoss {
  private CrossEntropyLoss() {}

  /** {@code −(1/N) Σ_n log softmax(logits_n)[label_n]}. */
  public static Variable of(Variable logits, int[] labels) {
    return of(logits, labels, 0.0);
  }

  /**
   * Cross-entropy against labels smoothed by {@code smoothing} = ε (Szegedy et al. 2016, §7): the
   * target puts 1 − ε + ε/K on the label and ε/K on every other class, so the loss is {@code −(1/N)
   * Σ_n Σ_k q_nk log softmax(logits_n)[k]}. With ε = 0 it is {@link #of(Variable, int[])}. The
   * gradient with respect to the logits is {@code (softmax − q)/N}, recorded on the tape as the
   * composition it is.
   */
  public static Variable of(Variable logits, int[] labels, double smoothing) {
    if (!(smoothing >= 0 && smoothing < 1)) {
      throw new IllegalArgumentException(
          "CrossEntropyLoss: label smoothing must be in [0, 1), got " + smoothing);
    }
    Shape s = logits.shape();
    if (s.rank() != 2 || s.dim(0) != labels.length) {
      throw new IllegalArgumentException(
          "CrossEntropyLoss: logits "
              + s
              + " must be [N, K] with N = "
              + labels.length
              + " labels");
    }
    int n = s.dim(0);
    int k = s.dim(1);
    double[] mask = new double[n * k];
    for (int i = 0; i < n; i++) {
      if (labels[i] < 0 || labels[i] >= k) {
        throw new IllegalArgumentException(
            "CrossEntropyLoss: label "
                + labels[i]
                + " at index "
                + i
                + " is outside [0, "
                + k
                + ")");
      }
      mask[i * k + labels[i]] = 1.0;
    }
    Backend be = logits.backend();
    Tensor labelMask = be.fromArray(mask, s);
    if (logits.dtype() != labelMask.dtype()) {
      labelMask = be.cast(labelMask, logits.dtype());
    }
    Variable zero = Variable.constant(be.scalar(0.0, logits.dtype()));
    Variable logP = Ops.logSoftmax(logits, 1);
    Variable picked = Ops.where(labelMask, logP, zero);
    Variable nll = Ops.mulScalar(Ops.sum(picked, false), -1.0 / n);
    if (smoothing == 0) {
      return nll;
    }
    // Every class carries weight ε/K: a −∞ log-probability makes the loss +∞, never NaN.
    Variable uniform = Ops.mulScalar(Ops.sum(logP, false), -1.0 / ((double) n * k));
    return Ops.add(Ops.mulScalar(nll, 1 - smoothing), Ops.mulScalar(uniform, smoothing));
  }
}
