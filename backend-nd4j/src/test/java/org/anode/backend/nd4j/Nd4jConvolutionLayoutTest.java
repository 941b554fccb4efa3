package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.junit.jupiter.api.Test;

/**
 * The channels-last route of float32 forward convolutions (outputs of at least {@link
 * ChannelsLastLayout#MIN_BYTES}): the result is kept channels-last and equals the same convolution
 * in float64 (which takes libnd4j's NCHW kernel) to float32 round-off, both from an NCHW input and
 * from a channels-last one.
 */
class Nd4jConvolutionLayoutTest {
  final Backend be = Backends.get("nd4j");

  Tensor random(Shape shape, DType dtype, long seed) {
    return SamePrecisionInputs.random(be, shape, dtype, seed);
  }

  static double maxRelativeError(double[] expected, Tensor actual32) {
    return SamePrecisionInputs.maxRelativeError(expected, actual32.toDoubleArray());
  }

  void check(Shape x, Shape w, boolean bias, Conv2dSpec spec) {
    try (TensorScope scope = TensorScope.open()) {
      Tensor x64 = random(x, DType.FLOAT64, 1);
      Tensor w64 = random(w, DType.FLOAT64, 2);
      Tensor b64 = bias ? random(Shape.of(w.dim(0)), DType.FLOAT64, 3) : null;
      Tensor w32 = random(w, DType.FLOAT32, 2);
      Tensor y32 =
          be.conv2d(
              random(x, DType.FLOAT32, 1),
              w32,
              bias ? random(Shape.of(w.dim(0)), DType.FLOAT32, 3) : null,
              spec);
      assertNotNull(
          ((Nd4jTensor) y32).channelsLastOrNull(),
          "the case must take the channels-last route: " + y32.shape());
      Tensor expected = be.conv2d(x64, w64, b64, spec);
      if (w.dim(0) == w.dim(1)) {
        // A second convolution reads the channels-last result as it is.
        Tensor again = be.conv2d(y32, w32, null, spec);
        assertNotNull(((Nd4jTensor) again).channelsLastOrNull());
        double e = maxRelativeError(be.conv2d(expected, w64, null, spec).toDoubleArray(), again);
        assertTrue(e < 1e-5, "conv of a channels-last input: relative error " + e);
      }
      double e = maxRelativeError(expected.toDoubleArray(), y32);
      assertTrue(e < 1e-5, x + " * " + w + " " + spec + ": relative error " + e);
      assertNull(((Nd4jTensor) y32).channelsLastOrNull(), "reading it turned it into NCHW");
      assertArrayEquals(y32.toDoubleArray(), y32.toDoubleArray(), 0);
    }
  }

  @Test
  void threeByThreeSamePadding() {
    check(Shape.of(16, 64, 32, 32), Shape.of(64, 64, 3, 3), false, Conv2dSpec.of(1, 1));
  }

  @Test
  void stridedWithBias() {
    check(Shape.of(64, 32, 32, 32), Shape.of(64, 32, 3, 3), true, Conv2dSpec.of(2, 1));
  }

  @Test
  void oneByOne() {
    check(Shape.of(32, 32, 32, 32), Shape.of(64, 32, 1, 1), false, Conv2dSpec.of(1, 0));
  }
}
