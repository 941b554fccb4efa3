package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.anode.api.Backends;
import org.anode.api.Checks;
import org.anode.api.Tensor;

/**
 * Moves tensors between a DJL program and anode without copying, so that an ODE block can be
 * dropped into an existing DJL model: {@link #wrap} an {@link NDArray} as an anode {@link Tensor},
 * run anode on it, {@link #unwrap} the result back. Both directions make a new handle on the same
 * libtorch storage (libtorch keeps the storage alive while any handle is open).
 */
public final class DjlTensors {
  private DjlTensors() {}

  private static DjlBackend backend() {
    return (DjlBackend) Backends.get(DjlProvider.NAME);
  }

  /**
   * An anode tensor on the DJL backend that shares {@code array}'s storage. It belongs to the
   * current {@link org.anode.api.TensorScope}; closing it leaves {@code array} open.
   */
  public static Tensor wrap(NDArray array) {
    DataType t = array.getDataType();
    if (t != DataType.FLOAT32 && t != DataType.FLOAT64) {
      throw new IllegalArgumentException(
          "DjlTensors.wrap: anode tensors are FLOAT32 or FLOAT64, got "
              + t
              + " "
              + array.getShape());
    }
    if (!"PyTorch".equals(array.getManager().getEngine().getEngineName())) {
      throw new IllegalArgumentException(
          "DjlTensors.wrap: the array belongs to engine "
              + array.getManager().getEngine().getEngineName()
              + ", anode's DJL backend runs PyTorch");
    }
    // The alias does not keep a Java-created array's buffer alive; the tensor holds the array.
    return backend().wrap(array.stopGradient(), array);
  }

  /**
   * An {@link NDArray} attached to {@code manager} that shares the storage of {@code tensor} (a
   * tensor of the DJL backend). It stays valid after {@code tensor} closes.
   */
  public static NDArray unwrap(Tensor tensor, NDManager manager) {
    Checks.onBackend("DjlTensors.unwrap", backend(), tensor);
    NDArray alias = DjlBackend.arr(tensor).stopGradient();
    alias.attach(manager);
    return alias;
  }
}
