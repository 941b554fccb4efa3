package org.anode.backend.tensorflow;

import java.util.List;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.tensorflow.Operand;

/**
 * The TensorFlow backend's pooling kernels, NHWC inside (TensorFlow's CPU pooling exists only for
 * it) and channels-last results (see {@link TfTensor}). Padding is explicit zeros, so it counts in
 * the average as on the other backends.
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class TfPooling {
  private final TfKernelCache kernels;

  TfPooling(TfKernelCache kernels) {
    this.kernels = kernels;
  }

  private static List<Long> window(Pool2dSpec s) {
    return TfBackend.longs(1, s.kernelH(), s.kernelW(), 1);
  }

  private static List<Long> steps(Pool2dSpec s) {
    return TfBackend.longs(1, s.strideH(), s.strideW(), 1);
  }

  /** Average pooling; padding pads with zeros that count in the average, as on every backend. */
  Tensor avgPool2d(Tensor x, Pool2dSpec spec) {
    int[][] pad = {{0, 0}, {spec.padH(), spec.padH()}, {spec.padW(), spec.padW()}, {0, 0}};
    return kernels.runLayout(
        "avgPool2d",
        spec.toString(),
        List.of(x, 0.0),
        (tf, in) -> {
          Operand padded = tf.pad(in.nhwc(0), tf.constant(pad), in.nchw(1));
          return List.of(tf.nn.avgPool(padded, window(spec), steps(spec), "VALID"));
        },
        true);
  }

  Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    int n = inputShape.dim(0);
    int c = inputShape.dim(1);
    int h = inputShape.dim(2);
    int w = inputShape.dim(3);
    int[] padded = {n, h + 2 * spec.padH(), w + 2 * spec.padW(), c};
    return kernels.runLayout(
        "avgPool2dBackward",
        spec + inputShape.toString(),
        List.of(gradOut),
        (tf, in) -> {
          Operand gp =
              tf.nn.avgPoolGrad(
                  tf.constant(padded), in.nhwc(0), window(spec), steps(spec), "VALID");
          return List.of(
              tf.slice(
                  gp,
                  tf.constant(new int[] {0, spec.padH(), spec.padW(), 0}),
                  tf.constant(new int[] {n, h, w, c})));
        },
        true);
  }

  /** The gradient of the mean over H and W: {@code gradOut} spread evenly, channels-last. */
  Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    double scale = 1.0 / (inputShape.dim(2) * (double) inputShape.dim(3));
    long[] nhwc = {inputShape.dim(0), inputShape.dim(2), inputShape.dim(3), inputShape.dim(1)};
    // channels-last, as the image whose mean it differentiates most likely was
    return kernels.runLayout(
        "globalAvgPoolBackward",
        inputShape.toString(),
        List.of(gradOut, scale),
        (tf, in) -> List.of(tf.math.mul(tf.broadcastTo(in.nhwc(0), tf.constant(nhwc)), in.nchw(1))),
        true);
  }
}
