package org.anode.backend.nd4j;

import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/** An anode tensor: an ND4J array over native memory that the tensor frees on close. */
final class Nd4jTensor extends AbstractTensor {
  private final Nd4jBackend backend;
  private final Nd4jMemory.Block block;

  Nd4jTensor(Nd4jBackend backend, Nd4jMemory.Block block, Shape shape, DType dtype) {
    super(shape, dtype);
    this.backend = backend;
    this.block = block;
  }

  INDArray array() {
    checkOpen();
    return block.array();
  }

  @Override
  public Backend backend() {
    return backend;
  }

  @Override
  protected float[] readFloats() {
    float[] out = new float[(int) shape().numel()];
    ((FloatPointer) block.memory()).get(out);
    return out;
  }

  @Override
  protected double[] readDoubles() {
    double[] out = new double[(int) shape().numel()];
    ((DoublePointer) block.memory()).get(out);
    return out;
  }

  @Override
  protected void release() {
    block.free();
  }
}
