package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;
import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The conformance suite a backend must pass: every kernel against a plain-Java float64 reference
 * ({@link Reference}) in both dtypes, the convolution and pooling gradient kernels against finite
 * differences and against the adjoint identity {@code ⟨conv(x, w), g⟩ = ⟨x, ∂ₓ(g)⟩ = ⟨w, ∂_w(g)⟩},
 * the error contract, and prompt release of memory by scopes.
 *
 * <p>A backend (ours or a third party's) runs it by depending on {@code anode-conformance} and
 * subclassing, naming its provider or handing over a backend built with options:
 *
 * <pre>{@code
 * class MyBackendConformanceTest extends BackendConformanceSuite {
 *   MyBackendConformanceTest() { super(new MyBackend(BackendOptions.threads(2))); }
 *
 *   @Override protected boolean supportsDilation() { return false; }   // refused with an error
 *   @Override protected double tolerance(DType d) { return d == DType.FLOAT32 ? 5e-5 : 1e-12; }
 *   @Override protected Map<String, String> skipped() {
 *     return Map.of("pooling", "average pooling lands in the next release");
 *   }
 * }
 * }</pre>
 *
 * A capability a backend does not claim is not tested (its cases are skipped, shown as such); a
 * skipped test is reported with its reason.
 */
@ExtendWith(BackendConformanceSuite.Skips.class)
public abstract class BackendConformanceSuite {
  /** The default tolerances: float64 to round-off, float32 to a few ulps of the sums involved. */
  public static final double TOL64 = 1e-12;

  public static final double TOL32 = 2e-5;

  protected final Backend be;
  private TensorScope scope;
  private SplittableRandom rng;

  /** Tests the backend of the provider called {@code providerName}. */
  protected BackendConformanceSuite(String providerName) {
    this(Backends.get(providerName));
  }

  /** Tests {@code backend} (built with whatever options its author needs). */
  protected BackendConformanceSuite(Backend backend) {
    this.be = java.util.Objects.requireNonNull(backend, "backend");
  }

  // ---- what a subclass may change ---------------------------------------------------------------

  /** The relative tolerance of every kernel in {@code dtype} ({@link #TOL64}, {@link #TOL32}). */
  protected double tolerance(DType dtype) {
    return dtype == DType.FLOAT64 ? TOL64 : TOL32;
  }

  /** Whether the backend computes in float64 (else every float64 case is skipped). */
  protected boolean supportsFloat64() {
    return true;
  }

  /** Whether the backend supports dilated convolutions (else those cases are skipped). */
  protected boolean supportsDilation() {
    return true;
  }

  /** Whether the backend supports grouped convolutions (else those cases are skipped). */
  protected boolean supportsGroups() {
    return true;
  }

  /** Tests to skip, by method name, with the reason reported for each. */
  protected Map<String, String> skipped() {
    return Map.of();
  }

  /** Skips a test that {@link #skipped()} names, with its reason. */
  static final class Skips implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      if (context.getTestMethod().isEmpty()
          || !(context.getTestInstance().orElse(null) instanceof BackendConformanceSuite suite)) {
        return ConditionEvaluationResult.enabled("not a test of the suite");
      }
      String reason = suite.skipped().get(context.getTestMethod().get().getName());
      return reason == null
          ? ConditionEvaluationResult.enabled("not skipped")
          : ConditionEvaluationResult.disabled(
              "skipped by " + suite.getClass().getSimpleName() + ": " + reason);
    }
  }

  /** Skips a case in {@code dtype} when the backend does not claim it. */
  protected final void assumeSupported(DType dtype) {
    Assumptions.assumeTrue(
        dtype != DType.FLOAT64 || supportsFloat64(), "the backend does not claim float64");
  }

  @BeforeEach
  void openScope() {
    scope = TensorScope.open();
    rng = new SplittableRandom(2024);
  }

  @AfterEach
  void closeScope() {
    scope.close();
  }

  // ---- helpers --------------------------------------------------------------------------------

  private double[] random(int n) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) {
      double v = rng.nextDouble(0.1, 1.0);
      d[i] = rng.nextBoolean() ? v : -v;
    }
    return d;
  }

  private Tensor tensor(double[] data, Shape shape, DType dtype) {
    Tensor t = be.fromArray(data, shape);
    return dtype == DType.FLOAT64 ? t : be.cast(t, dtype);
  }

  /** Values as {@code dtype} holds them, so float32 references start from the same numbers. */
  private static double[] rounded(double[] d, DType dtype) {
    if (dtype == DType.FLOAT64) {
      return d;
    }
    double[] r = new double[d.length];
    for (int i = 0; i < d.length; i++) {
      r[i] = (float) d[i];
    }
    return r;
  }

  private double tol(DType dtype) {
    return tolerance(dtype);
  }

  private void close(String what, double[] expected, Tensor actual, DType dtype) {
    assertEquals(dtype, actual.dtype(), what + ": dtype");
    double err = GradientCheck.relativeError(expected, actual.toDoubleArray());
    assertTrue(err <= tol(dtype), what + " (" + dtype + "): relative error " + err);
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
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

  // ---- convolution ----------------------------------------------------------------------------

  private List<Object[]> convCases() {
    return allConvCases().stream()
        .filter(c -> supportsDilation() || ((Conv2dSpec) c[3]).dilationH() == 1)
        .filter(c -> supportsGroups() || ((Conv2dSpec) c[3]).groups() == 1)
        .toList();
  }

  private static List<Object[]> allConvCases() {
    return List.of(
        new Object[] {"3x3 pad 1", Shape.of(2, 4, 7, 6), Shape.of(5, 4, 3, 3), Conv2dSpec.of(1, 1)},
        // Channel counts off oneDNN's 16-lane blocks (libtorch on AMD Zen 5 got these wrong).
        new Object[] {
          "3x3 pad 1, 24 → 16 channels",
          Shape.of(2, 24, 6, 6),
          Shape.of(16, 24, 3, 3),
          Conv2dSpec.of(1, 1)
        },
        new Object[] {
          "3x3 stride 2", Shape.of(2, 4, 7, 6), Shape.of(5, 4, 3, 3), Conv2dSpec.of(2, 1)
        },
        new Object[] {
          "1x3 pad (0,1)",
          Shape.of(2, 4, 5, 6),
          Shape.of(3, 4, 1, 3),
          Conv2dSpec.defaults().withPadding(0, 1)
        },
        new Object[] {
          "3x1 pad (1,0)",
          Shape.of(2, 4, 5, 6),
          Shape.of(3, 4, 3, 1),
          Conv2dSpec.defaults().withPadding(1, 0)
        },
        new Object[] {
          "dilation 2",
          Shape.of(1, 3, 8, 8),
          Shape.of(2, 3, 3, 3),
          Conv2dSpec.of(1, 2).withDilation(2, 2)
        },
        new Object[] {
          "groups 2 stride 2",
          Shape.of(2, 4, 7, 7),
          Shape.of(6, 2, 3, 3),
          Conv2dSpec.of(2, 1).withGroups(2)
        },
        new Object[] {"1x1", Shape.of(2, 4, 5, 5), Shape.of(8, 4, 1, 1), Conv2dSpec.defaults()});
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void conv2dForwardAndGradientKernels(DType dtype) {
    assumeSupported(dtype);
    for (Object[] c : convCases()) {
      String name = (String) c[0];
      Shape xs = (Shape) c[1];
      Shape ws = (Shape) c[2];
      Conv2dSpec spec = (Conv2dSpec) c[3];
      double[] x = rounded(random((int) xs.numel()), dtype);
      double[] w = rounded(random((int) ws.numel()), dtype);
      double[] b = rounded(random(ws.dim(0)), dtype);
      Tensor tx = tensor(x, xs, dtype);
      Tensor tw = tensor(w, ws, dtype);
      Tensor tb = tensor(b, Shape.of(ws.dim(0)), dtype);
      double[] y = Reference.conv2d(x, xs, w, ws, b, spec);
      close("conv2d " + name, y, be.conv2d(tx, tw, tb, spec), dtype);
      close(
          "conv2d no bias " + name,
          Reference.conv2d(x, xs, w, ws, null, spec),
          be.conv2d(tx, tw, null, spec),
          dtype);
      // Adjoint identity with the reference forward: <conv(x,w), g> = <x, dX(g)> = <w, dW(g)>.
      Shape ys = spec.outputShape(xs, ws);
      double[] g = rounded(random((int) ys.numel()), dtype);
      Tensor tg = tensor(g, ys, dtype);
      double lhs = dot(Reference.conv2d(x, xs, w, ws, null, spec), g);
      double viaInput = dot(x, be.conv2dBackwardInput(tg, tw, xs, spec).toDoubleArray());
      double viaWeight = dot(w, be.conv2dBackwardWeight(tx, tg, ws, spec).toDoubleArray());
      double scale = Math.max(1, Math.abs(lhs));
      assertEquals(lhs, viaInput, tol(dtype) * scale * 10, "conv2d input gradient " + name);
      assertEquals(lhs, viaWeight, tol(dtype) * scale * 10, "conv2d weight gradient " + name);
      var both = be.conv2dBackward(tx, tw, tg, spec, true, true);
      close(
          "conv2dBackward input " + name,
          be.conv2dBackwardInput(tg, tw, xs, spec).toDoubleArray(),
          both.input(),
          dtype);
      close(
          "conv2dBackward weight " + name,
          be.conv2dBackwardWeight(tx, tg, ws, spec).toDoubleArray(),
          both.weight(),
          dtype);
    }
  }

  @Test
  void conv2dGradientsMatchFiniteDifferences() {
    for (Object[] c : convCases()) {
      Shape xs = (Shape) c[1];
      Shape ws = (Shape) c[2];
      Conv2dSpec spec = (Conv2dSpec) c[3];
      Variable x = Variable.leaf(tensor(random((int) xs.numel()), xs, DType.FLOAT64));
      Variable w = Variable.leaf(tensor(random((int) ws.numel()), ws, DType.FLOAT64));
      Variable b = Variable.leaf(tensor(random(ws.dim(0)), Shape.of(ws.dim(0)), DType.FLOAT64));
      GradientCheck.Result r =
          GradientCheck.check(() -> Ops.conv2d(x, w, b, spec), List.of(x, w, b), 1e-6, 1);
      assertTrue(r.max() <= 1e-6, c[0] + ": " + java.util.Arrays.toString(r.errors()));
    }
  }

  // ---- pooling and softmax --------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(DType.class)
  void pooling(DType dtype) {
    assumeSupported(dtype);
    Shape xs = Shape.of(2, 3, 7, 6);
    double[] x = rounded(random((int) xs.numel()), dtype);
    Tensor tx = tensor(x, xs, dtype);
    for (Pool2dSpec spec :
        List.of(Pool2dSpec.of(2), Pool2dSpec.of(3, 2, 1), Pool2dSpec.of(3, 1, 1))) {
      double[] y = Reference.avgPool2d(x, xs, spec);
      close("avgPool2d " + spec, y, be.avgPool2d(tx, spec), dtype);
      Shape ys = spec.outputShape(xs);
      double[] g = rounded(random((int) ys.numel()), dtype);
      double viaGrad = dot(x, be.avgPool2dBackward(tensor(g, ys, dtype), xs, spec).toDoubleArray());
      assertEquals(dot(y, g), viaGrad, tol(dtype) * 100, "avgPool2d gradient " + spec);
    }
    double[] gap = Reference.reduce(x, xs, new int[] {2, 3}, 0, Double::sum);
    for (int i = 0; i < gap.length; i++) {
      gap[i] /= 42;
    }
    Tensor pooled = be.globalAvgPool(tx);
    assertEquals(Shape.of(2, 3, 1, 1), pooled.shape());
    close("globalAvgPool", gap, pooled, dtype);
    double[] g = rounded(random(6), dtype);
    double viaGrad =
        dot(
            x,
            be.globalAvgPoolBackward(tensor(g, Shape.of(2, 3, 1, 1), dtype), xs).toDoubleArray());
    assertEquals(dot(gap, g), viaGrad, tol(dtype) * 100, "globalAvgPool gradient");
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void logSoftmax(DType dtype) {
    assumeSupported(dtype);
    double[] x = rounded(random(4 * 6), dtype);
    for (int i = 0; i < x.length; i++) {
      x[i] *= 30; // large logits: must be computed stably
    }
    close(
        "logSoftmax",
        Reference.logSoftmaxRows(x, 4, 6),
        be.logSoftmax(tensor(x, Shape.of(4, 6), dtype), 1),
        dtype);
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void extremeLogitsGiveFiniteLogSoftmaxAndCrossEntropy(DType dtype) {
    assumeSupported(dtype);
    RobustnessChecks.extremeLogits(be, dtype, tol(dtype));
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void resultsSurviveClosingTheirInputsAndAGarbageCollection(DType dtype) {
    assumeSupported(dtype);
    RobustnessChecks.resultsSurviveTheirInputs(be, dtype);
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void fusedReluBackwardEqualsItsComposition(DType dtype) {
    assumeSupported(dtype);
    FusedKernelChecks.reluBackward(be, dtype, tol(dtype));
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void fusedAddScaledEqualsItsComposition(DType dtype) {
    assumeSupported(dtype);
    FusedKernelChecks.addScaled(be, dtype, tol(dtype));
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void liveMemoryCountsEveryAllocationAndRelease(DType dtype) {
    assumeSupported(dtype);
    LiveMemoryChecks.countsEveryAllocationAndRelease(be, dtype);
  }

  // ---- every differentiable op against finite differences -------------------------------------

  private Variable leaf(int... dims) {
    Shape s = Shape.of(dims);
    return Variable.leaf(tensor(random((int) s.numel()), s, DType.FLOAT64));
  }

  private void fd(String what, java.util.function.Supplier<Variable> f, Variable... leaves) {
    GradientCheck.Result r = GradientCheck.check(f, List.of(leaves), 1e-6, 3);
    assertTrue(r.max() <= 1e-6, what + ": " + java.util.Arrays.toString(r.errors()));
  }

  @Test
  void everyOpMatchesFiniteDifferences() {
    assumeSupported(DType.FLOAT64);
    Variable a = leaf(2, 3, 4, 5);
    Variable c = leaf(1, 3, 1, 1);
    Variable p = Variable.leaf(be.addScalar(be.mulScalar(be.square(a.value()), 1.0), 0.5));
    fd("add", () -> Ops.add(a, c), a, c);
    fd("sub", () -> Ops.sub(c, a), a, c);
    fd("mul", () -> Ops.mul(a, c), a, c);
    fd("div", () -> Ops.div(a, p), a, p);
    fd("scalars", () -> Ops.mulScalar(Ops.addScalar(a, 0.3), -1.7), a);
    fd("pow", () -> Ops.powScalar(p, 1.5), p);
    fd("exp, tanh", () -> Ops.tanh(Ops.exp(a)), a);
    fd("log, sqrt", () -> Ops.sqrt(Ops.log(Ops.addScalar(p, 1.0))), p);
    fd("square, neg", () -> Ops.neg(Ops.square(a)), a);
    fd("relu", () -> Ops.relu(a), a);
    fd("sum", () -> Ops.sum(a, true, 0, 2, 3), a);
    fd("mean", () -> Ops.mean(a, false, 1), a);
    fd("max", () -> Ops.max(a, false, 3), a);
    fd("reshape, permute", () -> Ops.permute(Ops.reshape(a, Shape.of(6, 20)), 1, 0), a);
    fd("slice, concat", () -> Ops.concat(List.of(Ops.slice(a, 1, 1, 3), a), 1), a);
    fd("broadcastTo", () -> Ops.broadcastTo(c, Shape.of(2, 3, 4, 5)), c);
    Variable m = leaf(3, 6);
    Variable n = leaf(6, 4);
    fd("matmul", () -> Ops.matmul(m, n), m, n);
    fd("logSoftmax", () -> Ops.logSoftmax(m, 1), m);
    fd("avgPool", () -> Ops.avgPool2d(a, Pool2dSpec.of(3, 2, 1)), a);
    fd("globalAvgPool", () -> Ops.globalAvgPool(a), a);
  }

  // ---- error contract -------------------------------------------------------------------------

  private static void assertMessage(IllegalArgumentException e, String... parts) {
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' lacks '" + p + "'");
    }
  }

  @Test
  void shapeAndDtypeErrorsNameOperationShapesAndDtypes() {
    Tensor a = be.zeros(Shape.of(2, 3), DType.FLOAT64);
    Tensor b = be.zeros(Shape.of(3, 2), DType.FLOAT64);
    Tensor c = be.zeros(Shape.of(2, 3), DType.FLOAT32);
    assertMessage(
        assertThrows(IllegalArgumentException.class, () -> be.add(a, b)),
        "add",
        "[2, 3] FLOAT64",
        "[3, 2] FLOAT64");
    assertMessage(
        assertThrows(IllegalArgumentException.class, () -> be.mul(a, c)),
        "mul",
        "[2, 3] FLOAT64",
        "[2, 3] FLOAT32");
    assertMessage(
        assertThrows(
            IllegalArgumentException.class, () -> be.add(a, be.zeros(Shape.of(3), DType.FLOAT64))),
        "add",
        "[2, 3] FLOAT64",
        "[3] FLOAT64");
    assertMessage(
        assertThrows(IllegalArgumentException.class, () -> be.matmul(a, a)),
        "matmul",
        "[2, 3] FLOAT64");
    Tensor x = be.zeros(Shape.of(1, 3, 5, 5), DType.FLOAT64);
    Tensor w = be.zeros(Shape.of(4, 2, 3, 3), DType.FLOAT64);
    assertMessage(
        assertThrows(
            IllegalArgumentException.class, () -> be.conv2d(x, w, null, Conv2dSpec.of(1, 1))),
        "conv2d",
        "[4, 2, 3, 3]",
        "[1, 3, 5, 5]");
    assertMessage(
        assertThrows(IllegalArgumentException.class, () -> be.reshape(a, Shape.of(4))),
        "reshape",
        "[2, 3]",
        "[4]");
    assertMessage(
        assertThrows(IllegalArgumentException.class, () -> be.sum(a, false, 2)), "sum", "axis 2");
    assertMessage(
        assertThrows(
            IllegalArgumentException.class, () -> be.fromArray(new double[5], Shape.of(2, 3))),
        "fromArray",
        "5",
        "[2, 3]");
  }

  @Test
  void closedTensorsAreRejected() {
    Tensor a = be.ones(Shape.of(2), DType.FLOAT64);
    a.close();
    a.close(); // idempotent
    assertTrue(a.isClosed());
    assertThrows(IllegalStateException.class, a::toDoubleArray);
    assertThrows(IllegalStateException.class, () -> be.add(a, a));
  }

  // ---- memory ---------------------------------------------------------------------------------

  @Test
  void scopesReleaseEveryTensorTheyOwn() {
    long before = AbstractTensor.openTensors();
    Tensor kept;
    try (TensorScope outer = TensorScope.open()) {
      try (TensorScope inner = TensorScope.open()) {
        Tensor x = be.ones(Shape.of(64, 64), DType.FLOAT32);
        for (int i = 0; i < 10; i++) {
          x = be.add(x, x);
        }
        kept = inner.keep(be.mulScalar(x, 2));
        assertEquals(12, inner.size() + 1);
      }
      assertEquals(before + 1, AbstractTensor.openTensors());
      assertEquals(1024.0 * 2, kept.toFloatArray()[0]);
      assertEquals(1, outer.size());
    }
    assertTrue(kept.isClosed());
    assertEquals(before, AbstractTensor.openTensors());
  }

  @Test
  void detachedTensorsOutliveTheirScope() {
    Tensor t;
    try (TensorScope s = TensorScope.open()) {
      t = TensorScope.detach(be.ones(Shape.of(3), DType.FLOAT64));
    }
    assertArrayEquals(new double[] {1, 1, 1}, t.toDoubleArray());
    t.close();
  }

  /** For subclasses: runs {@code f} many times in scopes; the open-tensor count must not grow. */
  protected static void assertNoTensorLeak(int repetitions, Function<Integer, Object> f) {
    long before = AbstractTensor.openTensors();
    for (int i = 0; i < repetitions; i++) {
      try (TensorScope s = TensorScope.open()) {
        f.apply(i);
      }
    }
    assertEquals(before, AbstractTensor.openTensors(), "tensors leaked");
  }
}
