package org.anode.backend.nd4j;

import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/**
 * Where the ND4J backend keeps a tensor channels-last (NHWC storage behind an NCHW tensor, {@link
 * Nd4jTensor#channelsLastOrNull()}): the results of large float32 convolutions, which oneDNN's
 * direct kernels read and write in NHWC; elementwise results of such tensors (so a block's
 * activations stay put); the input gradient of a convolution's backward when an operand is NHWC;
 * and image-sized float32 broadcasts (the gradient of a mean or a global pool), which a
 * convolution's backward reads next. Every other op turns a tensor into NCHW once.
 */
final class ChannelsLastLayout {
  private ChannelsLastLayout() {}

  /**
   * A float32 convolution whose output has at least this many bytes (or whose input is already
   * channels-last) writes a channels-last result: above it oneDNN's NHWC kernels were faster, below
   * it not (the measurements: docs/nd4j-measurements.md). The system property {@value #PROPERTY}
   * overrides it (0: every float32 convolution; tests use that).
   */
  static final long MIN_BYTES = Long.getLong(ChannelsLastLayout.PROPERTY, 4L << 20);

  static final String PROPERTY = "anode.nd4j.channelsLastMinBytes";

  /** Whether oneDNN's NHWC kernels serve this convolution: float32, not dilated, not grouped. */
  static boolean convolutionKernel(DType dtype, Conv2dSpec spec) {
    return dtype == DType.FLOAT32
        && spec.groups() == 1
        && spec.dilationH() == 1
        && spec.dilationW() == 1;
  }

  /** Whether an operand of {@code shape} can join a channels-last op with result {@code out}. */
  static boolean fitsElementwise(Tensor t, Shape out) {
    return t.shape().equals(out) || t.shape().numel() == 1;
  }

  /** Whether a broadcast to {@code shape} is written channels-last. */
  static boolean broadcast(DType dtype, Shape shape) {
    return dtype == DType.FLOAT32
        && shape.rank() == 4
        && shape.numel() * dtype.byteSize() >= MIN_BYTES;
  }
}
