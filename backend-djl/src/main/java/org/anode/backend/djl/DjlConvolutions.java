package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import org.anode.api.Backend.Conv2dGradients;
import org.anode.api.Conv2dBackwardArgs;
import org.anode.api.Conv2dSpec;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * The DJL backend's convolutions on libtorch: the forward by {@code JniUtils.convolution}, the
 * gradients by libtorch's convolution backward ({@link LibtorchConvolutionBackward}), a float32
 * convolution on the route the start-up probe found right on this CPU ({@link Float32Convolutions},
 * {@link ChannelPadding}).
 */
final class DjlConvolutions {
  private final DjlBackend backend;

  DjlConvolutions(DjlBackend backend) {
    this.backend = backend;
  }

  Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    Float32Convolutions.Route route = backend.convolutionRoute(x, w, spec);
    if (route == Float32Convolutions.Route.FLOAT64) {
      return TensorScope.keepResult(
          () ->
              backend.float32(
                  conv2d(backend.float64(x), backend.float64(w), backend.float64(bias), spec)));
    }
    return backend.wrap(
        ChannelPadding.forward(
            DjlBackend.arr(x),
            DjlBackend.arr(w),
            bias == null ? null : DjlBackend.arr(bias),
            spec,
            route == Float32Convolutions.Route.PADDED));
  }

  Conv2dGradients conv2dBackward(Conv2dBackwardArgs args) {
    return args.withBothOperands(backend, this::conv2dBackward);
  }

  private Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    Float32Convolutions.Route route = backend.convolutionRoute(x, w, spec);
    if (route == Float32Convolutions.Route.FLOAT64) {
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
    NDArray[] grads =
        ChannelPadding.backward(
            DjlBackend.arr(x),
            DjlBackend.arr(w),
            DjlBackend.arr(gradOut),
            spec,
            input,
            weight,
            route == Float32Convolutions.Route.PADDED);
    return new Conv2dGradients(
        grads[0] == null ? null : backend.wrap(grads[0]),
        grads[1] == null ? null : backend.wrap(grads[1]));
  }
}
