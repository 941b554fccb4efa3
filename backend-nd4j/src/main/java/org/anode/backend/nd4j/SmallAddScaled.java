package org.anode.backend.nd4j;

import java.util.List;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code base + Σ cᵢ·kᵢ} for small tensors in plain Java, rounding as libnd4j's scalar product and
 * add do (the product rounded to the dtype, then the sum: two roundings per term, in the terms'
 * order), so that the result is bit for bit the composition's.
 *
 * <p>Why: below a few thousand values a libnd4j op costs its dispatch, not its arithmetic (JNI, op
 * objects, shape buffers, ~15–20 µs each), and an SGD step updates a model's every parameter with
 * three {@code addScaled} calls of two ops each: on the ODE-ResNet at width 0.25 that was ~9% of
 * the training thread's samples, most of it for batch norm's γ and β of 16–128 values.
 */
final class SmallAddScaled {
  private SmallAddScaled() {}

  /** Tensors with at most this many values take this path. */
  static final long MAX_VALUES = 16_384;

  /** Whether this path serves the operands: small, and all of them stored NCHW (1-D included). */
  static boolean serves(Tensor base, List<Tensor> terms) {
    if (base.shape().numel() > MAX_VALUES || !nchw(base)) {
      return false;
    }
    for (Tensor t : terms) {
      if (!nchw(t)) {
        return false;
      }
    }
    return true;
  }

  private static boolean nchw(Tensor t) {
    return Nd4jBackend.own(t).layout() == StorageLayout.NCHW;
  }

  /** Writes {@code base + Σ cᵢ·termsᵢ} (zero coefficients skipped) into {@code out}. */
  static void compute(Tensor base, double[] c, List<Tensor> terms, INDArray out) {
    int n = (int) base.shape().numel();
    if (base.dtype() == DType.FLOAT32) {
      float[] acc = new float[n];
      float[] k = new float[n];
      floats(base).get(acc);
      for (int i = 0; i < c.length; i++) {
        if (c[i] == 0) {
          continue;
        }
        float s = (float) c[i];
        floats(terms.get(i)).get(k);
        for (int e = 0; e < n; e++) {
          float product = k[e] * s;
          acc[e] = acc[e] + product;
        }
      }
      new FloatPointer(out.data().addressPointer()).put(acc);
    } else {
      double[] acc = new double[n];
      double[] k = new double[n];
      doubles(base).get(acc);
      for (int i = 0; i < c.length; i++) {
        if (c[i] == 0) {
          continue;
        }
        double s = c[i];
        doubles(terms.get(i)).get(k);
        for (int e = 0; e < n; e++) {
          double product = k[e] * s;
          acc[e] = acc[e] + product;
        }
      }
      new DoublePointer(out.data().addressPointer()).put(acc);
    }
  }

  private static FloatPointer floats(Tensor t) {
    return new FloatPointer(Nd4jBackend.arr(t).data().addressPointer());
  }

  private static DoublePointer doubles(Tensor t) {
    return new DoublePointer(Nd4jBackend.arr(t).data().addressPointer());
  }
}
