package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.anode.api.Backend.Conv2dGradients;
import org.anode.api.Conv2dBackwardArgs;
import org.anode.api.Conv2dSpec;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * The DJL backend's convolutions on libtorch: the forward by {@code JniUtils.convolution}; both
 * gradients by re-running the convolution on detached aliases that require gradients and sweeping
 * it once; float32 computed in float64 where the start-up probe found libtorch's float32 kernels
 * wrong ({@link Float32Convolutions}).
 */
final class DjlConvolutions {
  private final DjlBackend backend;

  DjlConvolutions(DjlBackend backend) {
    this.backend = backend;
  }

  private static PtNDArray conv(NDArray x, NDArray w, NDArray b, Conv2dSpec s) {
    return JniUtils.convolution(
        (PtNDArray) x,
        (PtNDArray) w,
        (PtNDArray) b,
        new ai.djl.ndarray.types.Shape(s.strideH(), s.strideW()),
        new ai.djl.ndarray.types.Shape(s.padH(), s.padW()),
        new ai.djl.ndarray.types.Shape(s.dilationH(), s.dilationW()),
        s.groups());
  }

  Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    if (backend.widened(x.dtype())) {
      return TensorScope.keepResult(
          () ->
              backend.float32(
                  conv2d(backend.float64(x), backend.float64(w), backend.float64(bias), spec)));
    }
    return backend.wrap(
        conv(
            DjlBackend.arr(x),
            DjlBackend.arr(w),
            bias == null ? null : DjlBackend.arr(bias),
            spec));
  }

  Conv2dGradients conv2dBackward(Conv2dBackwardArgs args) {
    return args.withBothOperands(backend, this::conv2dBackward);
  }

  /**
   * libtorch's convolution backward: the convolution is re-run on detached aliases of {@code x} and
   * {@code w} that require gradients, and swept once from {@code gradOut}.
   */
  private Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    if (backend.widened(x.dtype())) {
      try (TensorScope scope = TensorScope.open()) {
        Conv2dGradients d =
            conv2dBackward(
                backend.float64(x),
                backend.float64(w),
                backend.float64(gradOut),
                spec,
                input,
                weight);
        Tensor gx = d.input() == null ? null : scope.keep(backend.float32(d.input()));
        Tensor gw = d.weight() == null ? null : scope.keep(backend.float32(d.weight()));
        return new Conv2dGradients(gx, gw);
      }
    }
    NDArray g = DjlBackend.arr(gradOut);
    try (LibtorchGradient gx = new LibtorchGradient(backend, DjlBackend.arr(x), input);
        LibtorchGradient gw = new LibtorchGradient(backend, DjlBackend.arr(w), weight);
        LibtorchGradient.GradMode on = new LibtorchGradient.GradMode()) {
      try (PtNDArray y = conv(gx.alias, gw.alias, null, spec)) {
        JniUtils.backward(y, (PtNDArray) g, false, false);
      }
      return new Conv2dGradients(gx.take(), gw.take());
    }
  }
}
