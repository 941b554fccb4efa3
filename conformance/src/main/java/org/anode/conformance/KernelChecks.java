package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.function.DoubleUnaryOperator;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The conformance suite's checks of the plain kernels — creation, elementwise, reductions, layout
 * and matmul — against plain-Java references in both dtypes ({@link BackendConformanceSuite} adds
 * the rest).
 */
abstract class KernelChecks extends ConformanceFixture {
  KernelChecks(String providerName) {
    super(providerName);
  }

  KernelChecks(Backend backend) {
    super(backend);
  }

  // ---- creation -------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(DType.class)
  void creationAndCopies(DType dtype) {
    assumeSupported(dtype);
    double[] d = random(24);
    Tensor t = tensor(d, Shape.of(2, 3, 4), dtype);
    assertEquals(Shape.of(2, 3, 4), t.shape());
    assertEquals(24L * dtype.byteSize(), t.bytes());
    close("fromArray", rounded(d, dtype), t, dtype);
    float[] f = new float[24];
    for (int i = 0; i < 24; i++) {
      f[i] = (float) d[i];
    }
    assertArrayEquals(f, be.fromArray(f, Shape.of(2, 3, 4)).toFloatArray());
    assertArrayEquals(
        new double[] {2.5, 2.5, 2.5}, be.full(Shape.of(3), 2.5, dtype).toDoubleArray());
    assertArrayEquals(new double[6], be.zeros(Shape.of(2, 3), dtype).toDoubleArray());
    assertEquals(7.0, be.scalar(7.0, dtype).item());
    assertEquals(0, be.scalar(7.0, dtype).shape().rank());
    Tensor c = be.cast(t, DType.FLOAT64);
    close("cast", rounded(d, dtype), c, DType.FLOAT64);
    Tensor copy = be.copy(t);
    t.close();
    close("copy survives the original", rounded(d, dtype), copy, dtype);
  }

  // ---- elementwise ----------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(DType.class)
  void binaryOpsBroadcast(DType dtype) {
    assumeSupported(dtype);
    Shape sa = Shape.of(2, 3, 4, 5);
    Shape[] others = {sa, Shape.of(1, 3, 1, 1), Shape.of(2, 1, 4, 1), Shape.scalar()};
    double[] a = rounded(random(120), dtype);
    Tensor ta = tensor(a, sa, dtype);
    for (Shape sb : others) {
      double[] b = rounded(random((int) sb.numel()), dtype);
      Tensor tb = tensor(b, sb, dtype);
      close("add " + sb, Reference.broadcast(a, sa, b, sb, Double::sum), be.add(ta, tb), dtype);
      close("sub " + sb, Reference.broadcast(a, sa, b, sb, (x, y) -> x - y), be.sub(ta, tb), dtype);
      close("mul " + sb, Reference.broadcast(a, sa, b, sb, (x, y) -> x * y), be.mul(ta, tb), dtype);
      close("div " + sb, Reference.broadcast(a, sa, b, sb, (x, y) -> x / y), be.div(ta, tb), dtype);
      close(
          "add reversed " + sb,
          Reference.broadcast(b, sb, a, sa, Double::sum),
          be.add(tb, ta),
          dtype);
      close(
          "greaterThan " + sb,
          Reference.broadcast(a, sa, b, sb, (x, y) -> x > y ? 1 : 0),
          be.greaterThan(ta, tb),
          dtype);
    }
    // ReLU's mask: a value equal to the other operand, zero of either sign included, gives 0.
    Tensor withZeros = tensor(new double[] {-1, 0, 0.5, 0, 2, -0.0}, Shape.of(2, 3), dtype);
    close(
        "greaterThan 0",
        new double[] {0, 0, 1, 0, 1, 0},
        be.greaterThan(withZeros, be.scalar(0.0, dtype)),
        dtype);
    close(
        "greaterThan -0 (broadcast)",
        new double[] {0, 0, 1, 0, 1, 0},
        be.greaterThan(withZeros, tensor(new double[] {-0.0}, Shape.of(1, 1), dtype)),
        dtype);
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void unaryAndScalarOps(DType dtype) {
    assumeSupported(dtype);
    double[] a = rounded(random(30), dtype);
    double[] p = new double[30];
    for (int i = 0; i < 30; i++) {
      p[i] = Math.abs(a[i]) + 0.5;
    }
    Shape s = Shape.of(5, 6);
    Tensor ta = tensor(a, s, dtype);
    Tensor tp = tensor(p, s, dtype);
    check1("neg", a, x -> -x, be.neg(ta), dtype);
    check1("exp", a, Math::exp, be.exp(ta), dtype);
    check1("log", p, Math::log, be.log(tp), dtype);
    check1("sqrt", p, Math::sqrt, be.sqrt(tp), dtype);
    check1("square", a, x -> x * x, be.square(ta), dtype);
    check1("relu", a, x -> Math.max(x, 0), be.relu(ta), dtype);
    check1("tanh", a, Math::tanh, be.tanh(ta), dtype);
    check1("addScalar", a, x -> x + 1.25, be.addScalar(ta, 1.25), dtype);
    check1("mulScalar", a, x -> x * -3.0, be.mulScalar(ta, -3.0), dtype);
    check1("powScalar", p, x -> Math.pow(x, -0.5), be.powScalar(tp, -0.5), dtype);
  }

  private void check1(String what, double[] in, DoubleUnaryOperator f, Tensor actual, DType dtype) {
    double[] expected = new double[in.length];
    for (int i = 0; i < in.length; i++) {
      expected[i] = f.applyAsDouble(in[i]);
    }
    close(what, expected, actual, dtype);
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void scalarResultsKeepTheirDtype(DType dtype) {
    assumeSupported(dtype);
    Tensor t = tensor(random(6), Shape.of(2, 3), dtype);
    Tensor all = be.mean(t, false);
    assertEquals(Shape.scalar(), all.shape());
    assertEquals(dtype, all.dtype(), "mean over all axes");
    assertEquals(dtype, be.mulScalar(all, 0.1).dtype(), "rank-0 mulScalar");
    assertEquals(dtype, be.addScalar(all, 0.1).dtype(), "rank-0 addScalar");
    assertEquals(dtype, be.powScalar(be.square(all), 0.5).dtype(), "rank-0 powScalar");
    assertEquals(dtype, be.sum(t, false).dtype(), "sum over all axes");
    assertEquals(dtype, be.max(t, false).dtype(), "max over all axes");
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void whereAndBroadcastTo(DType dtype) {
    assumeSupported(dtype);
    Shape s = Shape.of(2, 3, 4);
    double[] a = rounded(random(24), dtype);
    double[] b = rounded(random(24), dtype);
    double[] m = new double[3];
    m[1] = 1;
    Tensor mask = tensor(m, Shape.of(1, 3, 1), dtype);
    double[] expected = Reference.broadcast(a, s, b, s, (x, y) -> 0);
    for (int i = 0; i < 24; i++) {
      expected[i] = (i / 4) % 3 == 1 ? a[i] : b[i];
    }
    close("where", expected, be.where(mask, tensor(a, s, dtype), tensor(b, s, dtype)), dtype);
    double[] row = rounded(random(4), dtype);
    double[] tiled = Reference.broadcast(row, Shape.of(1, 1, 4), new double[24], s, Double::sum);
    close("broadcastTo", tiled, be.broadcastTo(tensor(row, Shape.of(1, 1, 4), dtype), s), dtype);
  }

  // ---- reductions -----------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(DType.class)
  void reductions(DType dtype) {
    assumeSupported(dtype);
    Shape s = Shape.of(2, 3, 4, 5);
    double[] a = rounded(random(120), dtype);
    Tensor t = tensor(a, s, dtype);
    int[][] axesList = {{0}, {1}, {0, 2, 3}, {2, 3}, {0, 1, 2, 3}};
    for (int[] axes : axesList) {
      String ax = java.util.Arrays.toString(axes);
      double[] sum = Reference.reduce(a, s, axes, 0, Double::sum);
      double count = (double) s.numel() / sum.length;
      double[] mean = sum.clone();
      for (int i = 0; i < mean.length; i++) {
        mean[i] /= count;
      }
      double[] max = Reference.reduce(a, s, axes, Double.NEGATIVE_INFINITY, Math::max);
      Tensor keep = be.sum(t, true, axes);
      assertEquals(
          org.anode.api.Checks.reducedShape(s, axes, true), keep.shape(), "sum keep " + ax);
      close("sum " + ax, sum, keep, dtype);
      Tensor drop = be.sum(t, false, axes);
      assertEquals(org.anode.api.Checks.reducedShape(s, axes, false), drop.shape(), "sum " + ax);
      close("sum drop " + ax, sum, drop, dtype);
      close("mean " + ax, mean, be.mean(t, true, axes), dtype);
      close("max " + ax, max, be.max(t, false, axes), dtype);
    }
    assertEquals(Shape.scalar(), be.sum(t, false).shape());
  }

  // ---- layout ---------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(DType.class)
  void layoutOps(DType dtype) {
    assumeSupported(dtype);
    Shape s = Shape.of(2, 3, 4);
    double[] a = rounded(random(24), dtype);
    Tensor t = tensor(a, s, dtype);
    Tensor r = be.reshape(t, Shape.of(4, 6));
    assertEquals(Shape.of(4, 6), r.shape());
    close("reshape", a, r, dtype);
    int[] perm = {2, 0, 1};
    Tensor p = be.permute(t, perm);
    assertEquals(Shape.of(4, 2, 3), p.shape());
    close("permute", Reference.permute(a, s, perm), p, dtype);
    Tensor sl = be.slice(t, 1, 1, 3);
    assertEquals(Shape.of(2, 2, 4), sl.shape());
    double[] expected = new double[16];
    for (int n = 0, k = 0; n < 2; n++) {
      for (int c = 1; c < 3; c++) {
        for (int w = 0; w < 4; w++) {
          expected[k++] = a[(n * 3 + c) * 4 + w];
        }
      }
    }
    close("slice", expected, sl, dtype);
    Tensor back = be.concat(List.of(be.slice(t, 1, 0, 1), sl), 1);
    close("concat", a, back, dtype);
    // A reshaped or sliced result owns its memory: closing the source must not change it.
    t.close();
    close("reshape after source closed", a, r, dtype);
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void matmul(DType dtype) {
    assumeSupported(dtype);
    double[] a = rounded(random(3 * 7), dtype);
    double[] b = rounded(random(7 * 4), dtype);
    close(
        "matmul",
        Reference.matmul(a, b, 3, 7, 4),
        be.matmul(tensor(a, Shape.of(3, 7), dtype), tensor(b, Shape.of(7, 4), dtype)),
        dtype);
  }
}
