package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.anode.api.Tensor;

/**
 * A detached alias of a libtorch array that collects a gradient when {@code wanted}: how the DJL
 * backend runs a kernel's backward (the convolution's, average pooling's) — re-run the op on
 * aliases that require gradients, sweep it once, take the gradients.
 */
final class LibtorchGradient implements AutoCloseable {
  private final DjlBackend backend;
  final PtNDArray alias;
  final boolean wanted;

  LibtorchGradient(DjlBackend backend, NDArray a, boolean wanted) {
    this.backend = backend;
    this.alias = (PtNDArray) a.stopGradient();
    this.wanted = wanted;
    if (wanted) {
      JniUtils.attachGradient(alias, true);
    }
  }

  Tensor take() {
    return wanted ? backend.wrap(JniUtils.getGradient(alias)) : null;
  }

  @Override
  public void close() {
    alias.close();
  }

  /** Gradient recording on for the scope of one backward kernel, restored after. */
  static final class GradMode implements AutoCloseable {
    private final boolean previous = JniUtils.isGradMode();

    GradMode() {
      JniUtils.setGradMode(true);
    }

    @Override
    public void close() {
      JniUtils.setGradMode(previous);
    }
  }
}
