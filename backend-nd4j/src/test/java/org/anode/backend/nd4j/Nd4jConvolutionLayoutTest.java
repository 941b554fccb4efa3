package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Both routes of large float32 forward convolutions ({@link ConvolutionRoute}: oneDNN with blocked
 * activations, libnd4j with channels-last ones for outputs of at least {@link
 * ChannelsLastLayout#MIN_BYTES}): the result is kept in the route's layout and equals the same
 * convolution in float64 (which takes libnd4j's NCHW kernel) to float32 round-off, both from an
 * NCHW input and from one in the route's layout.
 */
class Nd4jConvolutionLayoutTest {
  final Backend be = Backends.get("nd4j");

  Tensor random(Shape shape, DType dtype, long seed) {
    return SamePrecisionInputs.random(be, shape, dtype, seed);
  }

  static double maxRelativeError(double[] expected, Tensor actual32) {
    return SamePrecisionInputs.maxRelativeError(expected, actual32.toDoubleArray());
  }

  void check(ConvolutionRoute route, Shape x, Shape w, boolean bias, Conv2dSpec spec) {
    route.run(() -> check(route.layout, x, w, bias, spec));
  }

  void check(StorageLayout layout, Shape x, Shape w, boolean bias, Conv2dSpec spec) {
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
      assertEquals(layout, ((Nd4jTensor) y32).layout(), "the route's layout: " + y32.shape());
      Tensor expected = be.conv2d(x64, w64, b64, spec);
      if (w.dim(0) == w.dim(1)) {
        // A second convolution reads the result as it is.
        Tensor again = be.conv2d(y32, w32, null, spec);
        assertEquals(layout, ((Nd4jTensor) again).layout());
        double e = maxRelativeError(be.conv2d(expected, w64, null, spec).toDoubleArray(), again);
        assertTrue(e < 1e-5, "conv of an input in " + layout + ": relative error " + e);
      }
      double[] firstRead = y32.toDoubleArray();
      double e = SamePrecisionInputs.maxRelativeError(expected.toDoubleArray(), firstRead);
      assertTrue(e < 1e-5, x + " * " + w + " " + spec + ": relative error " + e);
      assertEquals(
          StorageLayout.NCHW, ((Nd4jTensor) y32).layout(), "reading it turned it into NCHW");
      // What the conversion stored is what the first read returned (which matched float64).
      assertArrayEquals(firstRead, y32.toDoubleArray(), 0, "a second read, after the conversion");
    }
  }

  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void threeByThreeSamePadding(ConvolutionRoute route) {
    check(route, Shape.of(16, 64, 32, 32), Shape.of(64, 64, 3, 3), false, Conv2dSpec.of(1, 1));
  }

  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void stridedWithBias(ConvolutionRoute route) {
    check(route, Shape.of(64, 32, 32, 32), Shape.of(64, 32, 3, 3), true, Conv2dSpec.of(2, 1));
  }

  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void oneByOne(ConvolutionRoute route) {
    check(route, Shape.of(32, 32, 32, 32), Shape.of(64, 32, 1, 1), false, Conv2dSpec.of(1, 0));
  }

  /**
   * Dilated, strided and with bias on oneDNN's route (libnd4j's cannot take dilation): forward and
   * both gradients equal float64's (libnd4j's own NCHW kernels) to float32 round-off.
   */
  @OnEachOneDnnRoute
  void dilatedStridedWithBiasOnOneDnn(ConvolutionRoute route) {
    route.run(
        () -> {
          Shape x = Shape.of(8, 16, 21, 19);
          Shape w = Shape.of(32, 16, 3, 3);
          Conv2dSpec spec = new Conv2dSpec(2, 1, 2, 1, 2, 3, 1);
          check(route.layout, x, w, true, spec);
          checkGradients(x, w, spec, route.layout);
        });
  }

  /**
   * Tensors blocked by 16 and by 8 (the block size switched between two convolutions) meet in a
   * sum: it runs in the layout convolutions write now and equals the sum of their NCHW copies
   * exactly; an unknown block size is refused with the property and value named.
   */
  @Test
  void bothBlockSizesMixInOneSum() {
    Shape x = Shape.of(4, 16, 8, 8);
    Shape w = Shape.of(16, 16, 3, 3);
    Tensor[] y = new Tensor[2];
    try (TensorScope scope = TensorScope.open()) {
      ConvolutionRoute.ONEDNN_BLOCKED16.with(() -> y[0] = convolutionOutput(x, w));
      ConvolutionRoute.ONEDNN_BLOCKED8.with(() -> y[1] = convolutionOutput(x, w));
      assertEquals(StorageLayout.BLOCKED16, ((Nd4jTensor) y[0]).layout());
      assertEquals(StorageLayout.BLOCKED8, ((Nd4jTensor) y[1]).layout());
      ConvolutionRoute.ONEDNN_BLOCKED8.with(
          () -> {
            Tensor sum = be.add(y[0], y[1]);
            assertEquals(StorageLayout.BLOCKED8, ((Nd4jTensor) sum).layout());
            double[] a = y[0].toDoubleArray();
            double[] b = y[1].toDoubleArray();
            double[] expected = new double[a.length];
            for (int i = 0; i < a.length; i++) {
              expected[i] = (float) ((float) a[i] + (float) b[i]);
            }
            assertArrayEquals(expected, sum.toDoubleArray(), 0);
          });
      ConvolutionRoute.ONEDNN_BLOCKED8.with(
          () -> {
            System.setProperty(OneDnn.BLOCK_PROPERTY, "12");
            IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, OneDnn::blockedLayout);
            assertTrue(e.getMessage().contains(OneDnn.BLOCK_PROPERTY + "=12"), e.getMessage());
          });
    }
  }

  /** A float32 3×3 same-padding convolution's output, in the layout of the route it ran on. */
  Tensor convolutionOutput(Shape x, Shape w) {
    return be.conv2d(
        random(x, DType.FLOAT32, 1), random(w, DType.FLOAT32, 2), null, Conv2dSpec.of(1, 1));
  }

  /**
   * A copy of a blocked convolution output (as a gradient accumulated into a leaf) is blocked too,
   * with the same values, and leaves its source blocked: turning either into NCHW would cost the
   * next convolution a reorder.
   */
  @OnEachOneDnnRoute
  void aCopyKeepsTheLayout(ConvolutionRoute route) {
    route.run(
        () -> {
          try (TensorScope scope = TensorScope.open()) {
            Tensor y = convolutionOutput(Shape.of(4, 16, 8, 8), Shape.of(32, 16, 3, 3));
            Tensor c = be.copy(y);
            assertEquals(route.layout, ((Nd4jTensor) y).layout());
            assertEquals(route.layout, ((Nd4jTensor) c).layout());
            assertArrayEquals(y.toDoubleArray(), c.toDoubleArray(), 0);
            assertArrayEquals(
                y.toDoubleArray(),
                be.cast(be.cast(y, DType.FLOAT64), DType.FLOAT32).toDoubleArray(),
                0);
          }
        });
  }

  /**
   * Per-channel and full sums, means and maxima of a convolution output kept in the route's layout
   * run on that storage (the tensor stays in it) and equal the same reductions of its NCHW copy to
   * float32 round-off; other axes fall back to NCHW.
   */
  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void reductionsRunOnTheStoredLayout(ConvolutionRoute route) {
    route.run(
        () -> {
          try (TensorScope scope = TensorScope.open()) {
            Tensor y = convolutionOutput(Shape.of(16, 64, 32, 32), Shape.of(64, 64, 3, 3));
            assertEquals(route.layout, ((Nd4jTensor) y).layout());
            // Read through a copy: reading a tensor's values turns its storage into NCHW.
            Tensor plain = be.fromArray(be.copy(y).toDoubleArray(), y.shape());
            Tensor abs = be.sqrt(be.mul(plain, plain));
            for (int[] axes : new int[][] {{0, 2, 3}, {3, 0, 2}, {0, 1, 2, 3}}) {
              for (boolean keep : new boolean[] {false, true}) {
                String what = java.util.Arrays.toString(axes) + " keepDims " + keep;
                Tensor scale = be.sum(abs, keep, axes);
                assertClose(be.sum(plain, keep, axes), be.sum(y, keep, axes), scale, "sum " + what);
                assertClose(
                    be.sum(plain, keep, axes),
                    be.mulScalar(be.mean(y, keep, axes), y.shape().numel() / scale.shape().numel()),
                    scale,
                    "mean " + what);
                assertClose(be.max(plain, keep, axes), be.max(y, keep, axes), null, "max " + what);
                assertEquals(route.layout, ((Nd4jTensor) y).layout(), what + ": layout kept");
              }
            }
            assertClose(be.sum(plain, false, 1), be.sum(y, false, 1), be.sum(abs, false, 1), "C");
          }
        });
  }

  /**
   * {@code got} against float64's {@code want}: within 1e-5 of the largest {@code scale} (the sum
   * of the magnitudes reduced: float32's accumulated round-off), or exactly when it is null.
   */
  void assertClose(Tensor want, Tensor got, Tensor scale, String what) {
    assertEquals(want.shape(), got.shape(), what);
    double[] w = want.toDoubleArray();
    double[] g = got.toDoubleArray();
    double limit = 0;
    if (scale != null) {
      for (double v : scale.toDoubleArray()) {
        limit = Math.max(limit, 1e-5 * v);
      }
    }
    for (int i = 0; i < w.length; i++) {
      assertTrue(Math.abs(w[i] - g[i]) <= limit, what + " [" + i + "]: " + g[i] + " vs " + w[i]);
    }
  }

  /**
   * Strided convolutions that leave the last input rows and columns unread (a ResNet's 1×1 stride-2
   * shortcut on an even size, 1×1 stride 3 on 17 and 18) on oneDNN's route, blocked in and out:
   * forward and both gradients equal float64's, and the input gradient of the unread rows is 0.
   */
  @OnEachOneDnnRoute
  void stridedShortcutsOnOneDnn(ConvolutionRoute route) {
    route.run(
        () -> {
          for (Shape x : List.of(Shape.of(8, 16, 16, 16), Shape.of(4, 32, 17, 18))) {
            Shape w = Shape.of(32, x.dim(1), 1, 1);
            for (int stride : new int[] {2, 3}) {
              Conv2dSpec spec = Conv2dSpec.of(stride, 0);
              assertTrue(OneDnnConvolutions.serves(DType.FLOAT32, x, w, spec), x + " " + spec);
              check(route.layout, x, w, false, spec);
              checkGradients(x, w, spec, route.layout);
            }
          }
        });
  }

  /**
   * A first layer (3 input channels, as an RGB stem) on oneDNN's route: the input and its gradient
   * stay NCHW (not padded to a block), the output is blocked, and the forward and both gradients
   * equal float64's to float32 round-off.
   */
  @OnEachOneDnnRoute
  void firstLayerOnOneDnn(ConvolutionRoute route) {
    route.run(
        () -> {
          Shape x = Shape.of(8, 3, 17, 15);
          Shape w = Shape.of(16, 3, 3, 3);
          check(route.layout, x, w, true, Conv2dSpec.of(1, 1));
          checkGradients(x, w, Conv2dSpec.of(1, 1), StorageLayout.NCHW);
          checkGradients(x, Shape.of(32, 3, 5, 5), new Conv2dSpec(2, 2, 2, 2, 1, 1, 1), null);
        });
  }

  /**
   * Both float32 gradients against float64's, the input gradient kept in {@code inputLayout}, or
   * not asked for when it is null (as for a network's first layer, whose input needs none).
   */
  void checkGradients(Shape x, Shape w, Conv2dSpec spec, StorageLayout inputLayout) {
    boolean input = inputLayout != null;
    try (TensorScope scope = TensorScope.open()) {
      Shape y = spec.outputShape(x, w);
      Backend.Conv2dGradients got =
          be.conv2dBackward(
              random(x, DType.FLOAT32, 1),
              random(w, DType.FLOAT32, 2),
              random(y, DType.FLOAT32, 4),
              spec,
              input,
              true);
      Backend.Conv2dGradients want =
          be.conv2dBackward(
              random(x, DType.FLOAT64, 1),
              random(w, DType.FLOAT64, 2),
              random(y, DType.FLOAT64, 4),
              spec,
              input,
              true);
      double ew = maxRelativeError(want.weight().toDoubleArray(), got.weight());
      assertTrue(ew < 1e-5, x + " * " + w + ": weight gradient " + ew);
      if (input) {
        assertEquals(inputLayout, ((Nd4jTensor) got.input()).layout());
        double ex = maxRelativeError(want.input().toDoubleArray(), got.input());
        assertTrue(ex < 1e-5, x + " * " + w + ": input gradient " + ex);
      } else {
        assertEquals(null, got.input(), "an input gradient nobody asked for");
      }
    }
  }
}
