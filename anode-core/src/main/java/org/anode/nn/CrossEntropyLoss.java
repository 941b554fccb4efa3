package org.anode.nn;

import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/** Mean cross-entropy of class logits {@code [N, K]} against integer labels, via log-softmax. */
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
    double[] oneHot = new double[n * k];
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
      oneHot[i * k + labels[i]] = -1.0 / n;
    }
    Tensor weights = logits.backend().fromArray(oneHot, s);
    if (logits.dtype() != weights.dtype()) {
      weights = logits.backend().cast(weights, logits.dtype());
    }
    return Ops.sum(Ops.mul(Ops.logSoftmax(logits, 1), Variable.constant(weights)), false);
  }
}
