package org.anode.backend.tensorflow;

import java.util.Arrays;
import java.util.List;
import org.anode.api.Tensor;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceMax;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.math.Mean;

/**
 * The TensorFlow backend's sums, means and maxima over axes, reading a channels-last image as
 * stored whenever the result allows it (see {@link #reduce}).
 */
@SuppressWarnings("rawtypes")
final class TfReductions {
  private final TfKernelCache kernels;

  TfReductions(TfKernelCache kernels) {
    this.kernels = kernels;
  }

  Tensor sum(Tensor x, boolean keepDims, int[] ax) {
    return reduce(
        "sum",
        x,
        keepDims,
        ax,
        (tf, v, axes, keep) -> tf.reduceSum(v, tf.constant(axes), ReduceSum.keepDims(keep)));
  }

  Tensor mean(Tensor x, boolean keepDims, int[] ax) {
    return reduce(
        "mean",
        x,
        keepDims,
        ax,
        (tf, v, axes, keep) -> tf.math.mean(v, tf.constant(axes), Mean.keepDims(keep)));
  }

  Tensor max(Tensor x, boolean keepDims, int[] ax) {
    return reduce(
        "max",
        x,
        keepDims,
        ax,
        (tf, v, axes, keep) -> tf.reduceMax(v, tf.constant(axes), ReduceMax.keepDims(keep)));
  }

  /** One TensorFlow reduction over {@code axes} of {@code x}. */
  @SuppressWarnings("rawtypes")
  interface Reduction {
    Operand build(Ops tf, Operand x, int[] axes, boolean keepDims);
  }

  /**
   * Reduces {@code x} over the api's axes {@code ax}. A channels-last image is reduced as stored,
   * over the same axes at their NHWC positions, whenever the result comes out in the api's order:
   * with kept dimensions (the result is channels-last too), or when the channels are reduced, or
   * both H and W (the axes left are then in the same order in either layout). Otherwise the graph
   * reads it in NCHW first.
   */
  private Tensor reduce(String op, Tensor x, boolean keepDims, int[] ax, Reduction r) {
    if (TfBackend.channelsLast(x) && (keepDims || reducesChannelsOrPlane(ax))) {
      int[] stored = new int[ax.length];
      for (int i = 0; i < ax.length; i++) {
        stored[i] = TfConvolutionGraphs.NHWC_TO_NCHW[ax[i]];
      }
      Arrays.sort(stored);
      return kernels.runLayout(
          op + "/nhwc",
          Arrays.toString(stored) + keepDims,
          List.of(x),
          (tf, in) -> List.of(r.build(tf, in.nhwc(0), stored, keepDims)),
          keepDims);
    }
    return kernels.run(
        op,
        Arrays.toString(ax) + keepDims,
        List.of(x),
        (tf, in) -> r.build(tf, in.get(0), ax, keepDims));
  }

  private static boolean reducesChannelsOrPlane(int[] ax) {
    boolean c = false;
    boolean h = false;
    boolean w = false;
    for (int a : ax) {
      c |= a == 1;
      h |= a == 2;
      w |= a == 3;
    }
    return c || (h && w);
  }
}
