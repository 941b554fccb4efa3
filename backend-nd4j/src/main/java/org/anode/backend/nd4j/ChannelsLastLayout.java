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
   * channels-last) writes a channels-last result. Measured on 2 AVX-512 cores (ND4J 1.0.0-M2.1 with
   * oneDNN, batch 32): an NHWC output took 0.59–0.95 of the time of an NCHW one for every output of
   * 4 MiB or more (3×3 at 64 channels and 32×32, 128 and 16×16, stride 2, 1×1) and 0.95–1.37 below
   * it (16 channels at 32×32, 128 at 4×4); an NHWC input saves oneDNN's reorder of it (1.5 ms of an
   * 11 ms 3×3 convolution at 64 channels, 32×32, batch 32). The system property {@value #PROPERTY}
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
