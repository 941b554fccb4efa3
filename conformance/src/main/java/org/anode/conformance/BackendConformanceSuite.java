package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Function;
import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.junit.jupiter.api.Test;
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
public abstract class BackendConformanceSuite extends KernelChecks {
  /** The default tolerances: float64 to round-off, float32 to a few ulps of the sums involved. */
  public static final double TOL64 = ConformanceFixture.TOL64;

  public static final double TOL32 = ConformanceFixture.TOL32;

  /** Tests the backend of the provider called {@code providerName}. */
  protected BackendConformanceSuite(String providerName) {
    super(providerName);
  }

  /** Tests {@code backend} (built with whatever options its author needs). */
  protected BackendConformanceSuite(Backend backend) {
    super(backend);
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
  void fusedConv2dReluEqualsItsComposition(DType dtype) {
    assumeSupported(dtype);
    FusedKernelChecks.conv2dRelu(be, dtype, tol(dtype));
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void fusedBatchNormEqualsItsClosedForm(DType dtype) {
    assumeSupported(dtype);
    FusedKernelChecks.batchNorm(be, dtype, tol(dtype));
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
