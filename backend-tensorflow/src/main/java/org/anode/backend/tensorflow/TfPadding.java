package org.anode.backend.tensorflow;

import java.util.List;
import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;

/**
 * The padding attribute a TensorFlow convolution kernel is built with: {@code VALID} or {@code
 * SAME} whenever that scheme reads exactly the input positions the spec's symmetric padding reads,
 * {@code EXPLICIT} with the spec's padding otherwise.
 *
 * <p>Why it matters: TensorFlow 2.18's oneDNN kernels take {@code VALID} and {@code SAME}, while a
 * gradient with {@code EXPLICIT} padding falls back to Eigen's kernels, twice as slow on the
 * benchmark's [32, 64, 32, 32] × [64, 64, 3, 3] (see docs/fused-kernels.md). The choice changes no
 * number beyond round-off: output position {@code i} reads input rows {@code i·s − before + j·d}
 * for {@code j < k}, so two schemes with the same {@code before} and the same output size compute
 * the same sums. {@code SAME} pads {@code max((⌈in/s⌉ − 1)·s + (k − 1)·d + 1 − in, 0)} in all,
 * {@code before} being half of it rounded down (TensorFlow's {@code GetWindowedOutputSize}).
 */
record TfPadding(String scheme, List<Long> explicit) {
  static final String VALID = "VALID";
  static final String SAME = "SAME";
  static final String EXPLICIT = "EXPLICIT";

  /**
   * The padding for a convolution of an input of {@code inputShape} (NCHW) with a kernel of {@code
   * weightShape} (OIHW) under {@code spec}. The graphs stuff a dilated kernel with zeros
   * (TensorFlow's CPU gradients reject dilation), so their kernel is {@code (k − 1)·d + 1} wide
   * with dilation 1: the same positions as the dilated one.
   */
  static TfPadding of(Shape inputShape, Shape weightShape, Conv2dSpec spec) {
    if (spec.padH() == 0 && spec.padW() == 0) {
      return new TfPadding(VALID, null);
    }
    Shape out = spec.outputShape(inputShape, weightShape);
    boolean same =
        sameBefore(inputShape.dim(2), weightShape.dim(2), spec.strideH(), spec.dilationH())
                == spec.padH()
            && sameBefore(inputShape.dim(3), weightShape.dim(3), spec.strideW(), spec.dilationW())
                == spec.padW()
            && sameOutput(inputShape.dim(2), spec.strideH()) == out.dim(2)
            && sameOutput(inputShape.dim(3), spec.strideW()) == out.dim(3);
    if (same) {
      return new TfPadding(SAME, null);
    }
    return new TfPadding(
        EXPLICIT, TfBackend.longs(0, 0, spec.padH(), spec.padH(), spec.padW(), spec.padW(), 0, 0));
  }

  private static int sameOutput(int in, int stride) {
    return (in + stride - 1) / stride;
  }

  /** The padding SAME puts before the first row (or column). */
  private static int sameBefore(int in, int k, int stride, int dilation) {
    int effective = (k - 1) * dilation + 1;
    int total = Math.max((sameOutput(in, stride) - 1) * stride + effective - in, 0);
    return total / 2;
  }

  boolean isExplicit() {
    return EXPLICIT.equals(scheme);
  }
}
