package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
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
 * Nd4jBackend#CHANNELS_LAST_MIN_BYTES}): results equal to the same convolution in float64 (which
 * takes libnd4j's own kernel) to float32 round-off, and results do not alias the reused workspace.
 */
class Nd4jConvolutionLayoutTest {
  final Backend be = Backends.get("nd4j");

  /** Values in [-1, 1) that float32 holds exactly, so both precisions see the same input. */
  Tensor random(Shape shape, DType dtype, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[(int) shape.numel()];
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) r.nextDouble(-1, 1);
      d[i] = f[i];
    }
    return dtype == DType.FLOAT32 ? be.fromArray(f, shape) : be.fromArray(d, shape);
  }

  static double maxRelativeError(double[] expected, double[] actual) {
    double scale = 0;
    double err = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      err = Math.max(err, Math.abs(expected[i] - actual[i]));
    }
    return err / scale;
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
      assertTrue(
          y32.bytes() >= Nd4jBackend.CHANNELS_LAST_MIN_BYTES,
          "the case must take the channels-last route: " + y32.shape());
      double[] first = y32.toDoubleArray();
      double[] expected = be.conv2d(x64, w64, b64, spec).toDoubleArray();
      double e = maxRelativeError(expected, first);
      assertTrue(e < 1e-5, x + " * " + w + " " + spec + ": relative error " + e);
      // Another convolution on the same thread reuses the workspace: the first result stays.
      be.conv2d(random(x, DType.FLOAT32, 4), w32, null, spec).close();
      assertArrayEquals(first, y32.toDoubleArray(), 0);
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
  void oneByOneGrowsTheWorkspace() {
    check(Shape.of(32, 32, 32, 32), Shape.of(64, 32, 1, 1), false, Conv2dSpec.of(1, 0));
  }
}
