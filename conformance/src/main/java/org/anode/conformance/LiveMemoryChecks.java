package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * Checks of {@link BackendConformanceSuite} for the live-bytes meter: a tensor's bytes are counted
 * when it is created and uncounted when it closes, and whatever storage a kernel uses beyond its
 * result is back to zero when it returns.
 */
final class LiveMemoryChecks {
  private LiveMemoryChecks() {}

  static void countsEveryAllocationAndRelease(Backend be, DType dtype) {
    long base = LiveMemory.currentBytes();
    Tensor t = be.zeros(Shape.of(3, 4, 5), dtype);
    assertEquals(base + 60L * dtype.byteSize(), LiveMemory.currentBytes(), "a new tensor");
    t.close();
    assertEquals(base, LiveMemory.currentBytes(), "a closed tensor");

    Shape xs = Shape.of(2, 8, 12, 12);
    Shape ws = Shape.of(8, 8, 3, 3);
    long resultBytes = xs.bytes(dtype);
    LiveMemory.resetPeak();
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = be.full(xs, 0.5, dtype);
      Tensor w = be.full(ws, 0.25, dtype);
      Conv2dSpec spec = Conv2dSpec.of(1, 1);
      Tensor y = be.conv2d(x, w, null, spec);
      be.conv2dBackward(x, w, y, spec, true, true);
      be.conv2dBackward(x, w, y, spec, false, true);
      be.avgPool2dBackward(be.avgPool2d(y, Pool2dSpec.of(2)), xs, Pool2dSpec.of(2));
      be.globalAvgPoolBackward(be.globalAvgPool(y), xs);
      be.where(be.greaterThan(x, be.scalar(0.0, dtype)), x, be.scalar(0.0, dtype));
      be.concat(List.of(x, y), 1);
      be.permute(y, 0, 2, 3, 1);
      be.logSoftmax(be.reshape(y, Shape.of(2, 8 * 144)), 1);
      be.relu(be.add(y, x));
    }
    assertEquals(
        base,
        LiveMemory.currentBytes(),
        "live bytes after every tensor closed (storage beyond tensors must be reported and freed)");
    assertTrue(
        LiveMemory.peakBytes() >= base + 3 * resultBytes,
        "peak " + LiveMemory.peakBytes() + " below what was open at once");
  }
}
