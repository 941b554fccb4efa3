package org.anode.backend.nd4j;

import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/** Inputs that float32 and float64 hold alike, and the error between their results. */
final class SamePrecisionInputs {
  private SamePrecisionInputs() {}

  /** Values in [-1, 1) that float32 holds exactly, so both precisions see the same input. */
  static Tensor random(Backend be, Shape shape, DType dtype, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[(int) shape.numel()];
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) r.nextDouble(-1, 1);
      d[i] = f[i];
    }
    return dtype == DType.FLOAT32 ? be.fromArray(f, shape) : be.fromArray(d, shape);
  }

  /** max |expected − actual| / max |expected|. */
  static double maxRelativeError(double[] expected, double[] actual) {
    if (expected.length != actual.length) {
      throw new IllegalArgumentException(expected.length + " values against " + actual.length);
    }
    double scale = 0;
    double err = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      err = Math.max(err, Math.abs(expected[i] - actual[i]));
    }
    return err / scale;
  }
}
