package org.anode.backend.nd4j;

import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.nd4j.linalg.api.ndarray.INDArray;

/** An anode tensor backed by an ND4J array that owns its buffer (never a view). */
final class Nd4jTensor extends AbstractTensor {
  private final Nd4jBackend backend;
  private final INDArray array;

  Nd4jTensor(Nd4jBackend backend, INDArray array, Shape shape, DType dtype) {
    super(shape, dtype);
    this.backend = backend;
    this.array = array;
  }

  INDArray array() {
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
    return array.data().asFloat();
  }

  @Override
  public double[] toDoubleArray() {
    checkOpen();
    return array.data().asDouble();
  }

  @Override
  protected void release() {
    array.close();
  }
}
