package org.anode.backend.tensorflow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TType;

/**
 * Every op on images stored channels-last (a convolution's result) gives what it gives on the same
 * values stored NCHW: the same shape, the same numbers (to the last bit for elementwise ops; to
 * round-off where a reduction may sum in another order), whether its other operands are
 * channels-last, NCHW, broadcast per channel or along W, or scalars.
 */
class TfChannelsLastTest {
  private static final Shape IMAGE = Shape.of(2, 3, 4, 5);
  private static TfBackend be;

  @BeforeAll
  static void open() {
    // the process's backend: TfTensors hands out that one's tensors
    be = (TfBackend) Backends.get(TfProvider.NAME);
  }

  private static Tensor random(Shape s, int seed, double lo, double hi) {
    SplittableRandom rng = new SplittableRandom(seed);
    double[] d = new double[(int) s.numel()];
    for (int i = 0; i < d.length; i++) {
      d[i] = rng.nextDouble(lo, hi);
    }
    return be.fromArray(d, s);
  }

  /** The same values stored channels-last: a 1×1 convolution with the identity, which is exact. */
  private static Tensor channelsLast(Tensor x) {
    int c = x.shape().dim(1);
    double[] eye = new double[c * c];
    for (int i = 0; i < c; i++) {
      eye[i * c + i] = 1;
    }
    Tensor y = be.conv2d(x, be.fromArray(eye, Shape.of(c, c, 1, 1)), null, Conv2dSpec.of(1, 0));
    assertTrue(TfBackend.channelsLast(y), "a convolution's result is channels-last");
    assertArrayEquals(x.toDoubleArray(), y.toDoubleArray());
    return y;
  }

  /** {@code op} on NCHW operands and on the same operands with the images channels-last. */
  private static void sameOnBothLayouts(
      String name, List<Tensor> operands, Function<List<Tensor>, Tensor> op, double tol) {
    List<Tensor> last = new ArrayList<>();
    for (Tensor t : operands) {
      last.add(t.shape().equals(IMAGE) ? channelsLast(t) : t);
    }
    Tensor expected = op.apply(operands);
    Tensor actual = op.apply(last);
    assertEquals(expected.shape(), actual.shape(), name + ": shape");
    double[] e = expected.toDoubleArray();
    double[] a = actual.toDoubleArray();
    for (int i = 0; i < e.length; i++) {
      assertEquals(e[i], a[i], tol * Math.max(1, Math.abs(e[i])), name + " at " + i);
    }
  }

  @Test
  void elementwiseOps() {
    Tensor x = random(IMAGE, 1, -2, 2);
    Tensor y = random(IMAGE, 2, -2, 2);
    Tensor positive = random(IMAGE, 3, 0.5, 2);
    Map<String, List<Tensor>> partners = new LinkedHashMap<>();
    partners.put("image", List.of(x, y));
    partners.put("scalar first", List.of(be.scalar(0.75, DType.FLOAT64), y));
    partners.put("per channel", List.of(x, random(Shape.of(1, 3, 1, 1), 5, -1, 1)));
    partners.put("along W", List.of(x, random(Shape.of(1, 1, 1, 5), 6, -1, 1)));
    partners.put("scalar", List.of(x, be.scalar(0.25, DType.FLOAT64)));
    partners.put("per channel first", List.of(random(Shape.of(1, 3, 1, 1), 7, -1, 1), y));
    for (var e : partners.entrySet()) {
      List<Tensor> ops = e.getValue();
      sameOnBothLayouts("add " + e.getKey(), ops, t -> be.add(t.get(0), t.get(1)), 0);
      sameOnBothLayouts("sub " + e.getKey(), ops, t -> be.sub(t.get(0), t.get(1)), 0);
      sameOnBothLayouts("mul " + e.getKey(), ops, t -> be.mul(t.get(0), t.get(1)), 0);
      sameOnBothLayouts("div " + e.getKey(), ops, t -> be.div(t.get(0), t.get(1)), 0);
      sameOnBothLayouts(
          "greaterThan " + e.getKey(), ops, t -> be.greaterThan(t.get(0), t.get(1)), 0);
    }
    List<Tensor> one = List.of(x);
    sameOnBothLayouts("relu", one, t -> be.relu(t.get(0)), 0);
    sameOnBothLayouts("neg", one, t -> be.neg(t.get(0)), 0);
    sameOnBothLayouts("exp", one, t -> be.exp(t.get(0)), 0);
    sameOnBothLayouts("tanh", one, t -> be.tanh(t.get(0)), 0);
    sameOnBothLayouts("square", one, t -> be.square(t.get(0)), 0);
    sameOnBothLayouts("addScalar", one, t -> be.addScalar(t.get(0), 0.5), 0);
    sameOnBothLayouts("mulScalar", one, t -> be.mulScalar(t.get(0), -1.5), 0);
    sameOnBothLayouts("cast", one, t -> be.cast(t.get(0), DType.FLOAT32), 0);
    sameOnBothLayouts("copy", one, t -> be.copy(t.get(0)), 0);
    List<Tensor> pos = List.of(positive);
    sameOnBothLayouts("log", pos, t -> be.log(t.get(0)), 0);
    sameOnBothLayouts("sqrt", pos, t -> be.sqrt(t.get(0)), 0);
    sameOnBothLayouts("powScalar", pos, t -> be.powScalar(t.get(0), -0.5), 0);
    sameOnBothLayouts(
        "where",
        List.of(x, y),
        t -> be.where(be.greaterThan(t.get(0), t.get(1)), t.get(0), t.get(1)),
        0);
  }

  @Test
  void reductionsOverEveryAxisSet() {
    Tensor x = random(IMAGE, 8, -2, 2);
    for (int mask = 1; mask < 16; mask++) {
      List<Integer> axes = new ArrayList<>();
      for (int a = 0; a < 4; a++) {
        if ((mask & (1 << a)) != 0) {
          axes.add(a);
        }
      }
      int[] ax = axes.stream().mapToInt(Integer::intValue).toArray();
      for (boolean keep : new boolean[] {true, false}) {
        String what = axes + (keep ? " kept" : "");
        sameOnBothLayouts("sum " + what, List.of(x), t -> be.sum(t.get(0), keep, ax), 1e-14);
        sameOnBothLayouts("mean " + what, List.of(x), t -> be.mean(t.get(0), keep, ax), 1e-14);
        sameOnBothLayouts("max " + what, List.of(x), t -> be.max(t.get(0), keep, ax), 0);
      }
    }
  }

  @Test
  void layoutOps() {
    List<Tensor> x = List.of(random(IMAGE, 9, -1, 1));
    sameOnBothLayouts("reshape", x, t -> be.reshape(t.get(0), Shape.of(6, 20)), 0);
    sameOnBothLayouts("permute", x, t -> be.permute(t.get(0), 0, 2, 3, 1), 0);
    sameOnBothLayouts("slice", x, t -> be.slice(t.get(0), 1, 1, 3), 0);
    sameOnBothLayouts("concat", x, t -> be.concat(List.of(t.get(0), t.get(0)), 1), 0);
    sameOnBothLayouts(
        "broadcastTo", x, t -> be.broadcastTo(be.mean(t.get(0), true, 0), IMAGE), 1e-15);
    sameOnBothLayouts("globalAvgPool", x, t -> be.globalAvgPool(t.get(0)), 1e-15);
    sameOnBothLayouts("logSoftmax", x, t -> be.logSoftmax(t.get(0), 1), 1e-15);
    sameOnBothLayouts(
        "avgPool2d", x, t -> be.avgPool2d(t.get(0), new Pool2dSpec(2, 2, 2, 2, 1, 1)), 1e-15);
  }

  @Test
  void convolutionsAndFusedKernels() {
    Tensor x = random(IMAGE, 10, -1, 1);
    Tensor g = random(IMAGE, 11, -1, 1);
    Tensor w = random(Shape.of(3, 3, 3, 3), 12, -1, 1);
    Tensor bias = random(Shape.of(3), 13, -1, 1);
    Tensor gamma = random(Shape.of(3), 14, 0.5, 1.5);
    Conv2dSpec spec = Conv2dSpec.of(1, 1);
    List<Tensor> xg = List.of(x, g);
    double tol = 1e-13;
    sameOnBothLayouts("conv2d", xg, t -> be.conv2d(t.get(0), w, bias, spec), tol);
    sameOnBothLayouts("conv2dRelu", xg, t -> be.conv2dRelu(t.get(0), w, bias, spec), tol);
    sameOnBothLayouts(
        "conv2d input gradient",
        xg,
        t -> be.conv2dBackward(t.get(0), w, t.get(1), spec, true, false).input(),
        tol);
    sameOnBothLayouts(
        "conv2d weight gradient",
        xg,
        t -> be.conv2dBackward(t.get(0), w, t.get(1), spec, false, true).weight(),
        tol);
    sameOnBothLayouts(
        "conv2d both gradients",
        xg,
        t -> be.conv2dBackward(t.get(0), w, t.get(1), spec, true, true).input(),
        tol);
    sameOnBothLayouts("reluBackward", xg, t -> be.reluBackward(be.relu(t.get(0)), t.get(1)), 0);
    sameOnBothLayouts(
        "addScaled",
        xg,
        t -> be.addScaled(t.get(0), new double[] {0.5, 0, 1}, List.of(t.get(1), x, t.get(1))),
        0);
    sameOnBothLayouts(
        "batchNorm", xg, t -> be.batchNorm(t.get(0), gamma, bias, 1e-5).output(), tol);
    sameOnBothLayouts(
        "batchNorm mean", xg, t -> be.batchNorm(t.get(0), gamma, bias, 1e-5).variance(), tol);
    Backend.BatchNormResult r = be.batchNorm(x, gamma, bias, 1e-5);
    sameOnBothLayouts(
        "batchNormBackward",
        xg,
        t ->
            be.batchNormBackward(
                    t.get(0), gamma, r.mean(), r.variance(), 1e-5, t.get(1), true, true, true)
                .input(),
        tol);
  }

  @Test
  void unwrapHandsOutNchw() {
    Tensor x = random(IMAGE, 15, -1, 1);
    double[] expected = x.toDoubleArray();
    Tensor last = channelsLast(x);
    TType raw = TfTensors.unwrap(last);
    try {
      assertEquals(org.tensorflow.ndarray.Shape.of(2, 3, 4, 5), raw.shape());
      double[] got = new double[expected.length];
      ((TFloat64) raw).copyTo(org.tensorflow.ndarray.buffer.DataBuffers.of(got, false, false));
      assertArrayEquals(expected, got);
    } finally {
      raw.close();
    }
    assertTrue(last.isClosed());
    assertFalse(TfBackend.channelsLast(x));
  }
}
