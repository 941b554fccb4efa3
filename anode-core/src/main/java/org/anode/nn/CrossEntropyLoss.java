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
    Variable picked = Ops.where(labelMask, Ops.logSoftmax(logits, 1), zero);
    return Ops.mulScalar(Ops.sum(picked, false), -1.0 / n);
  }
}
