package org.anode.autodiff;

import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/** Seeded random test tensors, generated in Java so every backend sees the same numbers. */
public final class Rand {
  private final Backend backend;
  private final SplittableRandom rng;

  public Rand(Backend backend, long seed) {
    this.backend = backend;
    this.rng = new SplittableRandom(seed);
  }

  /** Uniform in [lo, hi), float64. */
  public Tensor uniform(double lo, double hi, int... dims) {
    Shape s = Shape.of(dims);
    double[] d = new double[(int) s.numel()];
    for (int i = 0; i < d.length; i++) {
      d[i] = rng.nextDouble(lo, hi);
    }
    return backend.fromArray(d, s);
  }

  /** Uniform in [-1, 1) with magnitude at least 0.1 (away from ReLU's kink), float64. */
  public Tensor nonZero(int... dims) {
    Shape s = Shape.of(dims);
    double[] d = new double[(int) s.numel()];
    for (int i = 0; i < d.length; i++) {
      double v = rng.nextDouble(0.1, 1.0);
      d[i] = rng.nextBoolean() ? v : -v;
    }
    return backend.fromArray(d, s);
  }

  public Variable leaf(Tensor t) {
    return Variable.leaf(t);
  }

  public Variable leaf(double lo, double hi, int... dims) {
    return Variable.leaf(uniform(lo, hi, dims));
  }

  public Variable leaf(DType dtype, int... dims) {
    Tensor t = nonZero(dims);
    return Variable.leaf(dtype == DType.FLOAT64 ? t : backend.cast(t, dtype));
  }
}
