package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.Backend.Conv2dGradients;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.conformance.Reference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every distinct convolution of the shipped models at width 1 (ODE-ResNet18 and ODE-SqueezeNext on
 * 32×32 images, read from a recorded forward pass: {@link ModelConvolutions}), in float32 on every
 * route of every backend ({@link ConvolutionRoute}) that this CPU offers: the forward pass, the
 * input gradient and the weight gradient, each against a float64 reference computed in plain Java
 * ({@link Reference}) from the same float32 values, within the conformance suite's float32
 * tolerance (normwise relative error ≤ 2e-5).
 *
 * <p>Why: oneDNN's AVX-512 Winograd kernels crashed the JVM on ODE-ResNet18's own shapes at width
 * 0.5 and 1 (they store with instructions that need 64-byte-aligned memory) while every test ran
 * width 0.25; TensorFlow's oneDNN corrupted the heap on the first shortcut at width 0.125; libtorch
 * returned NaN for channel counts in partial blocks. The batch is 16: oneDNN 2.7 chooses Winograd
 * from a batch above 8 on its own heuristics, and this test checks that it did where the CPU has
 * AVX-512, so the route the main command takes is the route proved here.
 */
class ShippedModelConvolutionTest {
  static final int BATCH = 16;

  static final double TOLERANCE = 2e-5;

  /** Whether a 3×3 stride-1 case ran on the blocks-of-16 route with oneDNN's own algorithm. */
  private static volatile boolean winogradCandidateRan;

  static List<ModelConvolutions.Case> cases() {
    return ModelConvolutions.shipped(Backends.get("nd4j"), 1.0, BATCH);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void everyRouteMatchesFloat64(ModelConvolutions.Case c) {
    SplittableRandom rng = new SplittableRandom(c.toString().hashCode());
    Shape ys = c.spec().outputShape(c.input(), c.weight());
    float[] x = ModelConvolutions.random(rng, c.input());
    float[] w = ModelConvolutions.random(rng, c.weight());
    float[] b = c.bias() ? ModelConvolutions.random(rng, Shape.of(c.weight().dim(0))) : null;
    float[] g = ModelConvolutions.random(rng, ys);
    double[] xd = ModelConvolutions.widen(x);
    double[] wd = ModelConvolutions.widen(w);
    double[] gd = ModelConvolutions.widen(g);
    double[] y =
        Reference.conv2d(
            xd, c.input(), wd, c.weight(), b == null ? null : ModelConvolutions.widen(b), c.spec());
    double[] gx = Reference.conv2dBackwardInput(gd, wd, c.weight(), c.input(), c.spec());
    double[] gw = Reference.conv2dBackwardWeight(xd, c.input(), gd, c.weight(), c.spec());
    List<String> failures = new ArrayList<>();
    StringBuilder report = new StringBuilder(c + ":");
    for (ConvolutionRoute route : ConvolutionRoute.values()) {
      String skip = route.unavailable();
      if (skip != null) {
        report.append("\n  ").append(route).append(": not run, ").append(skip);
        continue;
      }
      route.with(
          () -> {
            Backend be = Backends.get(route.backend);
            try (TensorScope scope = TensorScope.open()) {
              Tensor tx = be.fromArray(x, c.input());
              Tensor tw = be.fromArray(w, c.weight());
              Tensor tb = b == null ? null : be.fromArray(b, Shape.of(b.length));
              Tensor tg = be.fromArray(g, ys);
              double ey = error(y, be.conv2d(tx, tw, tb, c.spec()));
              Conv2dGradients d = be.conv2dBackward(tx, tw, tg, c.spec(), true, true);
              winogradCandidateRan |=
                  route == ConvolutionRoute.ND4J_ONEDNN_BLOCKS16_AUTO
                      && c.weight().dim(2) == 3
                      && c.weight().dim(3) == 3
                      && c.spec().strideH() == 1;
              double egx = error(gx, d.input());
              double egw = error(gw, d.weight());
              report.append(
                  String.format(
                      "%n  %s: forward %.2e, input gradient %.2e, weight gradient %.2e",
                      route, ey, egx, egw));
              if (!(Math.max(ey, Math.max(egx, egw)) <= TOLERANCE)) {
                failures.add(
                    String.format(
                        "%s: forward %.3e, input gradient %.3e, weight gradient %.3e",
                        route, ey, egx, egw));
              }
            }
          });
    }
    System.out.println(report);
    assertTrue(failures.isEmpty(), c + " beyond " + TOLERANCE + " relative: " + failures);
  }

  /**
   * Each route's backend says, in {@link Backend#kernels}, the route its float32 convolutions take:
   * what {@code anode info} prints, checked against the properties that chose the route, and
   * printed with the route's name (which kernels this CPU ran).
   */
  @org.junit.jupiter.api.Test
  void eachRouteIsReportedAsItRuns() {
    Map<ConvolutionRoute, String> expected = new java.util.EnumMap<>(ConvolutionRoute.class);
    expected.put(ConvolutionRoute.ND4J_ONEDNN_BLOCKS16_AUTO, "blocks of 16 channels");
    expected.put(ConvolutionRoute.ND4J_ONEDNN_BLOCKS16_DIRECT, "direct algorithm");
    expected.put(ConvolutionRoute.ND4J_ONEDNN_BLOCKS8_AUTO, "blocks of 8 channels");
    expected.put(ConvolutionRoute.ND4J_ONEDNN_BLOCKS8_DIRECT, "direct algorithm");
    expected.put(ConvolutionRoute.ND4J_LIBND4J, "libnd4j's kernels");
    expected.put(ConvolutionRoute.TENSORFLOW, "TensorFlow");
    expected.put(ConvolutionRoute.DJL_AUTO, "start-up probe");
    expected.put(ConvolutionRoute.DJL_PADDED, "zero-padded");
    expected.put(ConvolutionRoute.DJL_FLOAT64, "float64");
    for (ConvolutionRoute route : ConvolutionRoute.values()) {
      if (route.unavailable() != null) {
        continue;
      }
      route.with(
          () -> {
            List<String> lines = Backends.get(route.backend).kernels();
            System.out.println(route + ":");
            lines.forEach(line -> System.out.println("  " + line));
            assertTrue(
                String.join("\n", lines).contains(expected.get(route)),
                route + " should say '" + expected.get(route) + "': " + lines);
          });
    }
  }

  /**
   * Where the CPU has AVX-512, the blocks-of-16 route with oneDNN's own choice of algorithm ran
   * Winograd for some 3×3 convolution: the kernels behind the crash were exercised, not skipped.
   */
  @AfterAll
  static void winogradRanWhereTheCpuHasIt() throws ReflectiveOperationException {
    if (!winogradCandidateRan) {
      System.out.println("Winograd: no 3×3 case ran on the blocks-of-16 route in this run");
      return;
    }
    if (ConvolutionRoute.ND4J_ONEDNN_BLOCKS16_AUTO.unavailable() != null) {
      System.out.println(
          "Winograd: not run, " + ConvolutionRoute.ND4J_ONEDNN_BLOCKS16_AUTO.unavailable());
      return;
    }
    Class<?> convolutions =
        Class.forName(
            Backends.get("nd4j").getClass().getPackageName() + ".OneDnnConvolutions",
            true,
            Backends.get("nd4j").getClass().getClassLoader());
    Method m = convolutions.getDeclaredMethod("implementations");
    m.setAccessible(true);
    @SuppressWarnings("unchecked")
    List<String> compiled = (List<String>) m.invoke(null);
    compiled.forEach(line -> System.out.println("oneDNN: " + line));
    assertTrue(
        compiled.stream().anyMatch(line -> line.contains("BLOCKED16") && line.contains("wino")),
        "no convolution ran on oneDNN's Winograd kernels with blocks of 16");
  }

  private static double error(double[] expected, Tensor actual) {
    assertTrue(actual.dtype() == DType.FLOAT32, "float32 in, " + actual.dtype() + " out");
    return GradientCheck.relativeError(expected, actual.toDoubleArray());
  }
}
