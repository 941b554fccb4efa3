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
  private final Object keepAlive;

  DjlTensor(DjlBackend backend, NDArray array, Shape shape, DType dtype, Object keepAlive) {
    super(shape, dtype);
    this.backend = backend;
    this.array = array;
    this.keepAlive = keepAlive;
  }

  /** What the array's memory depends on besides libtorch's own storage (null when nothing). */
  Object keepAlive() {
    return keepAlive;
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
  protected float[] readFloats() {
    return array.toFloatArray();
  }

  @Override
  protected double[] readDoubles() {
    return array.toDoubleArray();
  }

  @Override
  protected void release() {
    array.close();
  }
}
