package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;

/** An anode tensor over a DJL {@link NDArray}; closing it frees the libtorch tensor at once. */
final class DjlTensor extends AbstractTensor {
  private final DjlBackend backend;
  private final NDArray array;

  DjlTensor(DjlBackend backend, NDArray array, Shape shape, DType dtype) {
    super(shape, dtype);
    this.backend = backend;
    this.array = array;
  }

  NDArray array() {
    checkOpen();
    return array;
  }

  @Override
  public Backend backend() {
    return backend;
  }

  @Override
  public float[] toFloatArray() {
    checkOpen();
    if (dtype() == DType.FLOAT32) {
      return array.toFloatArray();
    }
    double[] d = array.toDoubleArray();
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  @Override
  public double[] toDoubleArray() {
    checkOpen();
    if (dtype() == DType.FLOAT64) {
      return array.toDoubleArray();
    }
    float[] f = array.toFloatArray();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  @Override
  protected void release() {
    array.close();
  }
}
