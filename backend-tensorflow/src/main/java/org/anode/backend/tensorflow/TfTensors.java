package org.anode.backend.tensorflow;

import org.anode.api.Backends;
import org.anode.api.Checks;
import org.anode.api.Tensor;
import org.tensorflow.types.family.TType;

/**
 * Moves tensors between a TensorFlow Java program and anode without copying, so that an ODE block
 * can be dropped into an existing TensorFlow pipeline: {@link #wrap} a {@code TFloat32} or {@code
 * TFloat64} as an anode {@link Tensor}, run anode on it, {@link #unwrap} the result back.
 */
public final class TfTensors {
  private TfTensors() {}

  private static TfBackend backend() {
    return (TfBackend) Backends.get(TfProvider.NAME);
  }

  /**
   * An anode tensor on the TensorFlow backend over {@code tensor} itself. The caller keeps
   * ownership: closing the anode tensor leaves {@code tensor} open, and {@code tensor} must stay
   * open while anode uses it.
   */
  public static Tensor wrap(TType tensor) {
    return backend().wrap(tensor, false);
  }

  /**
   * The TensorFlow tensor of {@code tensor} (a tensor of the TensorFlow backend), handed to the
   * caller: a result that anode owned becomes the caller's to close, and the anode tensor is closed
   * without freeing it. An image anode keeps channels-last (a convolution's result) is first copied
   * into NCHW, the layout every backend hands out.
   */
  public static TType unwrap(Tensor tensor) {
    Checks.onBackend("TfTensors.unwrap", backend(), tensor);
    TfTensor t = (TfTensor) tensor;
    if (t.channelsLast()) {
      // the caller gets NCHW, as it would from any other backend
      TfTensor nchw = backend().nchwCopy(t);
      t.close();
      return nchw.transfer();
    }
    return t.transfer();
  }
}
