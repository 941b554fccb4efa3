package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What every part of the conformance suite shares: the backend under test, the hooks a backend's
 * author overrides (tolerance, capabilities, skips), a fresh scope and random generator per test,
 * and the comparison helpers. The tests are in {@link KernelChecks} and {@link
 * BackendConformanceSuite}, which an author subclasses.
 */
@ExtendWith(ConformanceFixture.Skips.class)
abstract class ConformanceFixture {
  /** The default tolerances: float64 to round-off, float32 to a few ulps of the sums involved. */
  public static final double TOL64 = 1e-12;

  public static final double TOL32 = 2e-5;

  protected final Backend be;
  private TensorScope scope;
  private SplittableRandom rng;

  /** Tests the backend of the provider called {@code providerName}. */
  ConformanceFixture(String providerName) {
    this(Backends.get(providerName));
  }

  /** Tests {@code backend} (built with whatever options its author needs). */
  ConformanceFixture(Backend backend) {
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
          || !(context.getTestInstance().orElse(null) instanceof ConformanceFixture suite)) {
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

  double[] random(int n) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) {
      double v = rng.nextDouble(0.1, 1.0);
      d[i] = rng.nextBoolean() ? v : -v;
    }
    return d;
  }

  Tensor tensor(double[] data, Shape shape, DType dtype) {
    Tensor t = be.fromArray(data, shape);
    return dtype == DType.FLOAT64 ? t : be.cast(t, dtype);
  }

  /** Values as {@code dtype} holds them, so float32 references start from the same numbers. */
  static double[] rounded(double[] d, DType dtype) {
    if (dtype == DType.FLOAT64) {
      return d;
    }
    double[] r = new double[d.length];
    for (int i = 0; i < d.length; i++) {
      r[i] = (float) d[i];
    }
    return r;
  }

  double tol(DType dtype) {
    return tolerance(dtype);
  }

  void close(String what, double[] expected, Tensor actual, DType dtype) {
    assertEquals(dtype, actual.dtype(), what + ": dtype");
    double err = GradientCheck.relativeError(expected, actual.toDoubleArray());
    assertTrue(err <= tol(dtype), what + " (" + dtype + "): relative error " + err);
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
