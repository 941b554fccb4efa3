package org.anode.backend.nd4j;

import org.anode.api.DType;
import org.anode.api.Shape;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One float buffer per thread that a forward convolution writes its NHWC output into before the
 * copy to the NCHW result ({@link Nd4jBackend}'s channels-last route). Reused rather than allocated
 * per call: a fresh multi-MiB buffer costs a page fault per 4 KiB on first touch, which is as slow
 * as the transpose the route avoids. It grows to the largest output seen on the thread and lives as
 * long as the thread; it never holds a result after the call returns.
 */
final class ChannelsLastWorkspace {
  private static final ThreadLocal<ChannelsLastWorkspace> CURRENT =
      ThreadLocal.withInitial(ChannelsLastWorkspace::new);

  private Nd4jMemory.Block memory;

  private ChannelsLastWorkspace() {}

  /** A C-ordered float array [N, H, W, C] for an NCHW {@code shape} [N, C, H, W]. */
  static INDArray get(long[] nchw) {
    return CURRENT.get().array(new long[] {nchw[0], nchw[2], nchw[3], nchw[1]});
  }

  private INDArray array(long[] nhwc) {
    long n = nhwc[0] * nhwc[1] * nhwc[2] * nhwc[3];
    if (memory == null || memory.array().length() < n) {
      if (memory != null) {
        memory.free();
      }
      memory = Nd4jMemory.allocate(DType.FLOAT32, Shape.of(Math.toIntExact(n)));
    }
    return Nd4j.create(
        memory.array().data(), nhwc, Nd4j.getStrides(nhwc, 'c'), 0, 'c', DataType.FLOAT);
  }
}
