package org.anode.backend.tensorflow;

import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TType;

/**
 * An anode tensor over a TensorFlow tensor that this tensor owns: a session's fetched result or a
 * tensor made from Java data, never an eager handle (whose memory TensorFlow Java frees only with
 * its session or the garbage collector). Closing it frees the TensorFlow tensor at once.
 *
 * <p>An image (rank 4, NCHW in the api) may be stored channels-last: the TensorFlow tensor is then
 * NHWC, the layout TensorFlow's CPU convolutions read and write, so an ODE block's activations and
 * their gradients skip the two transposes every convolution needed around it (see {@link
 * TfInputs}). Reading the values or handing the tensor out returns NCHW.
 */
final class TfTensor extends AbstractTensor {
  private final TfBackend backend;
  private final TType tensor;
  private final boolean channelsLast;
  private boolean owned;

  TfTensor(
      TfBackend backend,
      TType tensor,
      Shape shape,
      DType dtype,
      boolean owned,
      boolean channelsLast) {
    super(shape, dtype);
    this.backend = backend;
    this.tensor = tensor;
    this.owned = owned;
    this.channelsLast = channelsLast;
  }

  /** Whether the TensorFlow tensor holds this NCHW image as NHWC. */
  boolean channelsLast() {
    return channelsLast;
  }

  /** Gives up ownership: the caller closes the TensorFlow tensor; this tensor becomes closed. */
  TType transfer() {
    checkOpen();
    owned = false;
    close();
    return tensor;
  }

  TType tensor() {
    checkOpen();
    return tensor;
  }

  @Override
  public Backend backend() {
    return backend;
  }

  @Override
  protected float[] readFloats() {
    float[] out = new float[(int) shape().numel()];
    if (!channelsLast) {
      ((TFloat32) tensor).copyTo(DataBuffers.of(out, false, false));
      return out;
    }
    try (TfTensor nchw = backend.nchwCopy(this)) {
      ((TFloat32) nchw.tensor).copyTo(DataBuffers.of(out, false, false));
    }
    return out;
  }

  @Override
  protected double[] readDoubles() {
    double[] out = new double[(int) shape().numel()];
    if (!channelsLast) {
      ((TFloat64) tensor).copyTo(DataBuffers.of(out, false, false));
      return out;
    }
    try (TfTensor nchw = backend.nchwCopy(this)) {
      ((TFloat64) nchw.tensor).copyTo(DataBuffers.of(out, false, false));
    }
    return out;
  }

  @Override
  protected void release() {
    if (owned) {
      tensor.close();
    }
  }
}
