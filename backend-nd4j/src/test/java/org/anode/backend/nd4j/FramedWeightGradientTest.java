package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * The weight gradient as matrix products over zero-framed activations ({@link
 * FramedWeightGradient}) on both oneDNN routes: equal to float64's (libnd4j's NCHW kernels) and to
 * oneDNN's direct kernel to float32 round-off, for every padding the frames allow, in chunks of one
 * image and of several with a shorter last one, with the frames reused.
 */
class FramedWeightGradientTest {
  final Backend be = Backends.get("nd4j");

  /** The float64 gradients by case and seed, computed once (libnd4j's NCHW kernel is slow). */
  final java.util.Map<String, double[]> float64 = new java.util.HashMap<>();

  /** Shapes the frames serve: same, valid and over-padded 3×3, 1×1, and a 3×5 kernel. */
  static final List<Case> SERVED =
      List.of(
          new Case(Shape.of(16, 64, 32, 32), Shape.of(72, 64, 3, 3), Conv2dSpec.of(1, 1)),
          new Case(Shape.of(16, 64, 34, 35), Shape.of(64, 64, 3, 3), Conv2dSpec.of(1, 0)),
          new Case(Shape.of(3, 64, 30, 31), Shape.of(64, 64, 3, 3), Conv2dSpec.of(1, 2)),
          new Case(Shape.of(3, 72, 32, 32), Shape.of(64, 72, 1, 1), Conv2dSpec.of(1, 0)),
          new Case(
              Shape.of(2, 64, 32, 32),
              Shape.of(64, 64, 3, 5),
              new Conv2dSpec(1, 1, 1, 2, 1, 1, 1)));

  record Case(Shape x, Shape w, Conv2dSpec spec) {}

  @OnEachOneDnnRoute
  void equalsFloat64AndTheDirectKernelInEveryChunking(ConvolutionRoute route) {
    route.run(
        () ->
            withChoice(
                "framed",
                () -> {
                  for (Case c : SERVED) {
                    assertTrue(FramedWeightGradient.serves(c.x(), c.w(), c.spec()), c.toString());
                    // One image per chunk, two (a shorter last one), and as many as the input's
                    // size
                    // allows (a quarter of it: two of 9, the last chunk one).
                    for (long chunk : new long[] {1, framePerImage(c) * 2, Long.MAX_VALUE / 2}) {
                      String before = System.getProperty(FramedWeightGradient.CHUNK_PROPERTY);
                      System.setProperty(FramedWeightGradient.CHUNK_PROPERTY, Long.toString(chunk));
                      try {
                        // Twice with other values: reused frames kept their zeros.
                        check(c, route.layout, 1);
                        check(c, route.layout, 7);
                      } finally {
                        restore(FramedWeightGradient.CHUNK_PROPERTY, before);
                      }
                    }
                  }
                  return null;
                }));
  }

  private static long framePerImage(Case c) {
    int h = c.x().dim(2) + c.spec().padH();
    int w = c.x().dim(3) + c.spec().padW();
    return (long) h * w * Math.max(c.x().dim(1), c.w().dim(0));
  }

  void check(Case c, StorageLayout layout, long seed) {
    try (TensorScope scope = TensorScope.open()) {
      Shape y = c.spec().outputShape(c.x(), c.w());
      // Inputs in the route's layout, as an ODE block hands them over.
      Tensor x32 = inLayout(random(c.x(), DType.FLOAT32, seed), layout);
      Tensor gy32 = inLayout(random(y, DType.FLOAT32, seed + 1), layout);
      long live = LiveMemory.currentBytes();
      Tensor framed = be.conv2dBackwardWeight(x32, gy32, c.w(), c.spec());
      assertEquals(
          live + c.w().numel() * 4,
          LiveMemory.currentBytes(),
          "live bytes after the kernel: its result only, the frames given back");
      Tensor direct =
          withChoice("direct", () -> be.conv2dBackwardWeight(x32, gy32, c.w(), c.spec()));
      double[] want =
          float64.computeIfAbsent(
              c + " " + seed,
              k ->
                  be.conv2dBackwardWeight(
                          random(c.x(), DType.FLOAT64, seed),
                          random(y, DType.FLOAT64, seed + 1),
                          c.w(),
                          c.spec())
                      .toDoubleArray());
      double e64 = SamePrecisionInputs.maxRelativeError(want, framed.toDoubleArray());
      double eDirect =
          SamePrecisionInputs.maxRelativeError(direct.toDoubleArray(), framed.toDoubleArray());
      assertTrue(e64 < 1e-5, c + " in " + layout + ": against float64, relative error " + e64);
      assertTrue(eDirect < 1e-5, c + " in " + layout + ": against oneDNN's kernel " + eDirect);
    }
  }

  /** A float32 tensor stored in {@code layout} (the layout a convolution leaves). */
  Tensor inLayout(Tensor t, StorageLayout layout) {
    Nd4jTensor n = (Nd4jTensor) t;
    if (layout == StorageLayout.NCHW || n.layout() == layout) {
      return t;
    }
    Nd4jMemory.Block b = Nd4jMemory.allocate(DType.FLOAT32, layout.storageShape(t.shape()));
    layout.copyFrom(n.layout(), n.storage(), b.array(), t.shape());
    return new Nd4jTensor((Nd4jBackend) be, b, t.shape(), DType.FLOAT32, layout);
  }

  Tensor random(Shape shape, DType dtype, long seed) {
    return SamePrecisionInputs.random(be, shape, dtype, seed);
  }

  /** {@code body} with {@link FramedWeightGradient#PROPERTY} set to {@code choice}. */
  static <T> T withChoice(String choice, java.util.function.Supplier<T> body) {
    String before = System.getProperty(FramedWeightGradient.PROPERTY);
    System.setProperty(FramedWeightGradient.PROPERTY, choice);
    try {
      return body.get();
    } finally {
      restore(FramedWeightGradient.PROPERTY, before);
    }
  }

  private static void restore(String property, String value) {
    if (value == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, value);
    }
  }

  /**
   * What the frames cannot express, or do not pay off for, stays on oneDNN's kernel; by default
   * nothing is framed (oneDNN's sgemm is not safe against signals); an unknown choice is refused.
   */
  @org.junit.jupiter.api.Test
  void declinesWhatItDoesNotServe() {
    Shape x = Shape.of(4, 64, 32, 32);
    Shape w = Shape.of(64, 64, 3, 3);
    withChoice(
        "framed",
        () -> {
          assertTrue(FramedWeightGradient.serves(x, w, Conv2dSpec.of(1, 1)));
          assertFalse(FramedWeightGradient.serves(x, w, Conv2dSpec.of(2, 1)), "stride 2");
          assertFalse(
              FramedWeightGradient.serves(x, w, new Conv2dSpec(1, 1, 2, 2, 2, 2, 1)), "dilation");
          assertFalse(
              FramedWeightGradient.serves(
                  x, Shape.of(64, 32, 3, 3), new Conv2dSpec(1, 1, 1, 1, 1, 1, 2)),
              "two groups");
          assertFalse(
              FramedWeightGradient.serves(x, w, Conv2dSpec.of(1, 3)), "padding of the kernel size");
          assertFalse(
              FramedWeightGradient.serves(
                  Shape.of(4, 32, 32, 32), Shape.of(64, 32, 3, 3), Conv2dSpec.of(1, 1)),
              "32 input channels");
          assertFalse(
              FramedWeightGradient.serves(x, Shape.of(32, 64, 3, 3), Conv2dSpec.of(1, 1)),
              "32 output channels");
          assertFalse(
              FramedWeightGradient.serves(Shape.of(4, 64, 16, 16), w, Conv2dSpec.of(1, 1)),
              "16×16 outputs");
          return null;
        });
    withChoice(
        "direct",
        () -> {
          assertFalse(FramedWeightGradient.serves(x, w, Conv2dSpec.of(1, 1)), "turned off");
          return null;
        });
    String before = System.getProperty(FramedWeightGradient.PROPERTY);
    System.clearProperty(FramedWeightGradient.PROPERTY);
    try {
      assertFalse(
          FramedWeightGradient.serves(x, w, Conv2dSpec.of(1, 1)),
          "off by default: oneDNN's sgemm is not safe against signals");
    } finally {
      restore(FramedWeightGradient.PROPERTY, before);
    }
    IllegalArgumentException e =
        withChoice(
            "gemm",
            () ->
                org.junit.jupiter.api.Assertions.assertThrows(
                    IllegalArgumentException.class,
                    () -> FramedWeightGradient.serves(x, w, Conv2dSpec.of(1, 1))));
    assertTrue(e.getMessage().contains(FramedWeightGradient.PROPERTY + "=gemm"), e.getMessage());
  }
}
