package org.anode.backend.nd4j;

import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An anode tensor: an ND4J array over native memory that the tensor frees on close.
 *
 * <p>A rank-4 tensor, logically NCHW like every anode tensor, may keep its values in channels-last
 * order ({@code [N, H, W, C]} in memory): the layout oneDNN's direct convolution kernels read and
 * write. Large float32 convolutions produce such tensors and elementwise ops keep them (see {@link
 * Nd4jBackend}), so a chain conv → ReLU → conv → Euler update runs without the layout changes that
 * oneDNN otherwise makes around every convolution. Any other op asks for {@link #array()}, which
 * turns the storage into NCHW once, in place: the same bytes in a new buffer, the old one freed.
 *
 * <p>That change of storage is why the methods here are synchronized, and why an array from {@link
 * #channelsLastOrNull()} is only valid until the next {@link #array()} on the same tensor: a kernel
 * asks for every operand's layout first and then runs.
 */
final class Nd4jTensor extends AbstractTensor {
  private final Nd4jBackend backend;
  private Nd4jMemory.Block block;
  private boolean channelsLast;

  /**
   * A tensor of {@code shape} over {@code block}: a C-ordered array of {@code shape}, or of {@link
   * #channelsLastShape} when {@code channelsLast}.
   */
  Nd4jTensor(
      Nd4jBackend backend, Nd4jMemory.Block block, Shape shape, DType dtype, boolean channelsLast) {
    super(shape, dtype);
    this.backend = backend;
    this.block = block;
    this.channelsLast = channelsLast;
  }

  /** {@code [N, H, W, C]} for an NCHW {@code shape}. */
  static Shape channelsLastShape(Shape nchw) {
    return Shape.of(nchw.dim(0), nchw.dim(2), nchw.dim(3), nchw.dim(1));
  }

  /** The values as a C-ordered array of {@link #shape()}, changing channels-last storage first. */
  synchronized INDArray array() {
    checkOpen();
    if (channelsLast) {
      toNchw();
    }
    return block.array();
  }

  /** The C-ordered {@code [N, H, W, C]} array when the storage is channels-last, else null. */
  synchronized INDArray channelsLastOrNull() {
    checkOpen();
    return channelsLast ? block.array() : null;
  }

  private void toNchw() {
    // Both layouts exist until the copy is done: the second counts as live memory meanwhile.
    Nd4jMemory.Block nchw = Nd4jMemory.scratch(dtype(), shape());
    try {
      nchw.array().assign(block.array().permute(0, 3, 1, 2));
    } catch (RuntimeException | Error e) {
      nchw.free();
      throw e;
    }
    block.free();
    block = nchw.handOver();
    channelsLast = false;
  }

  @Override
  public Backend backend() {
    return backend;
  }

  @Override
  protected synchronized float[] readFloats() {
    array();
    float[] out = new float[(int) shape().numel()];
    ((FloatPointer) block.memory()).get(out);
    return out;
  }

  @Override
  protected synchronized double[] readDoubles() {
    array();
    double[] out = new double[(int) shape().numel()];
    ((DoublePointer) block.memory()).get(out);
    return out;
  }

  @Override
  protected synchronized void release() {
    block.free();
  }
}
