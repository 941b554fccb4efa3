package org.anode.nn;

import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/**
 * Creates the parameters of modules on one backend, in one dtype, from one seeded generator: the
 * same seed gives the same initial weights on every backend (values are drawn in float64 in Java,
 * then rounded to the dtype once).
 */
public final class ParameterFactory {
  private final Backend backend;
  private final DType dtype;
  private final SplittableRandom rng;

  public ParameterFactory(Backend backend, DType dtype, long seed) {
    this.backend = backend;
    this.dtype = dtype;
    this.rng = new SplittableRandom(seed);
  }

  public Backend backend() {
    return backend;
  }

  public DType dtype() {
    return dtype;
  }

  /** A new parameter of {@code shape} with values from {@code init}. */
  public Parameter create(Shape shape, Initializer init) {
    return new Parameter(tensor(init.values(rng, shape), shape));
  }

  /**
   * A tensor of {@code values} in this factory's dtype (for buffers such as running statistics).
   */
  public Tensor tensor(double[] values, Shape shape) {
    if (dtype == DType.FLOAT64) {
      return backend.fromArray(values, shape);
    }
    float[] f = new float[values.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) values[i];
    }
    return backend.fromArray(f, shape);
  }
}
