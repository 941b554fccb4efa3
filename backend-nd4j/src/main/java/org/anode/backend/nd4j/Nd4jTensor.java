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
 * <p>A rank-4 tensor, logically NCHW like every anode tensor, may keep its values in another {@link
 * StorageLayout}: channels-last ({@code [N, H, W, C]} in memory) or oneDNN's blocked {@code
 * nChw16c} or {@code nChw8c}, the layouts the convolution kernels read and write. Float32
 * convolutions produce such tensors and elementwise ops keep them (see {@link Nd4jElementwise}), so
 * a chain conv → ReLU → conv → Euler update runs without the layout changes that oneDNN otherwise
 * makes around every convolution. Any other op asks for {@link #array()}, which turns the storage
 * into NCHW once, in place: the same values in a new buffer, the old one freed.
 *
 * <p>That change of storage is why the methods here are synchronized, and why an array from {@link
 * #storage()} is only valid until the next {@link #array()} on the same tensor: a kernel asks for
 * every operand's layout first and then runs.
 */
final class Nd4jTensor extends AbstractTensor {
  private final Nd4jBackend backend;
  private Nd4jMemory.Block block;
  private StorageLayout layout;

  /**
   * A tensor of {@code shape} over {@code block}: a C-ordered array of {@code
   * layout.storageShape(shape)}.
   */
  Nd4jTensor(
      Nd4jBackend backend, Nd4jMemory.Block block, Shape shape, DType dtype, StorageLayout layout) {
    super(shape, dtype);
    this.backend = backend;
    this.block = block;
    this.layout = layout;
  }

  /** The values as a C-ordered array of {@link #shape()}, changing other storage first. */
  synchronized INDArray array() {
    checkOpen();
    if (layout != StorageLayout.NCHW) {
      toNchw();
    }
    return block.array();
  }

  /** How the values are stored now. */
  synchronized StorageLayout layout() {
    checkOpen();
    return layout;
  }

  /** The C-ordered array of {@code layout().storageShape(shape())} that holds the values. */
  synchronized INDArray storage() {
    checkOpen();
    return block.array();
  }

  /** The C-ordered {@code [N, H, W, C]} array when the storage is channels-last, else null. */
  synchronized INDArray channelsLastOrNull() {
    checkOpen();
    return layout == StorageLayout.NHWC ? block.array() : null;
  }

  private void toNchw() {
    // Both layouts exist until the copy is done: the second counts as live memory meanwhile.
    Nd4jMemory.Block nchw = Nd4jMemory.scratch(dtype(), shape());
    try {
      StorageLayout.NCHW.copyFrom(layout, block.array(), nchw.array(), shape());
    } catch (RuntimeException | Error e) {
      nchw.free();
      throw e;
    }
    block.free();
    block = nchw.handOver();
    layout = StorageLayout.NCHW;
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
