package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Shape;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The adaptive solvers against independent implementations, step for step: Dormand–Prince against
 * scipy's {@code solve_ivp(method="RK45")}, MALI's ALF against TorchDiffEqPack's step, error
 * estimate and controller. The recorded runs ({@code adaptive-references.csv}) and how they were
 * computed: {@code src/test/python/adaptive_references.py}. Equal accepted and rejected counts mean
 * the same controller decisions at every step; the final states then differ by rounding alone.
 */
class AdaptiveReferenceTest {
  private final Backend be = Backends.get();

  record Reference(
      String solver, String problem, double tol, int accepted, int rejected, double[] zEnd) {
    @Override
    public String toString() {
      return solver + " " + problem + " tol " + tol;
    }
  }

  static Stream<Reference> references() throws IOException {
    List<Reference> out = new ArrayList<>();
    try (BufferedReader r =
        new BufferedReader(
            new InputStreamReader(
                AdaptiveReferenceTest.class.getResourceAsStream("adaptive-references.csv"),
                StandardCharsets.UTF_8))) {
      r.readLine();
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        String[] f = line.split(",");
        out.add(
            new Reference(
                f[0],
                f[1],
                Double.parseDouble(f[2]),
                Integer.parseInt(f[3]),
                Integer.parseInt(f[4]),
                Arrays.stream(f[5].split(";")).mapToDouble(Double::parseDouble).toArray()));
      }
    }
    return out.stream();
  }

  /** The script's problems, written with the same floating-point operations. */
  static final class Problem extends VectorField {
    private final String name;

    Problem(String name) {
      this.name = name;
    }

    @Override
    protected Variable compute(double t, Variable z) {
      return switch (name) {
        case "pulse" ->
            Ops.addScalar(Ops.mulScalar(z, -1), 10 * Math.exp(-Math.pow((t - 1) / 0.1, 2)));
        case "forced" -> Ops.addScalar(Ops.mulScalar(z, -2), Math.sin(t));
        case "logistic" -> Ops.mul(Ops.mulScalar(z, 3), Ops.addScalar(Ops.mulScalar(z, -1), 1));
        default -> throw new IllegalArgumentException(name);
      };
    }

    double[] z0() {
      return name.equals("logistic")
          ? new double[] {0.05, 0.3, 0.9}
          : new double[] {name.equals("pulse") ? 1.0 : 0.7};
    }

    double t1() {
      return switch (name) {
        case "pulse" -> 2.0;
        case "forced" -> 1.5;
        default -> 4.0;
      };
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("references")
  void matchesTheIndependentImplementation(Reference ref) {
    Problem field = new Problem(ref.problem());
    Solver solver = ref.solver().equals("alf") ? new AsynchronousLeapfrog() : new DormandPrince5();
    try (TensorScope scope = TensorScope.open()) {
      OdeBlock block =
          new OdeBlock(
              field,
              solver,
              0,
              field.t1(),
              Stepping.adaptive(ref.tol(), ref.tol()),
              new StoreAllGradient());
      double[] z0 = field.z0();
      Variable z = Variable.constant(be.fromArray(z0, Shape.of(z0.length)));
      OdeBlock.Solution s = block.solveUnrecorded(z);
      assertEquals(ref.accepted(), s.grid().steps(), ref + ": accepted steps");
      assertEquals(ref.rejected(), s.rejectedSteps(), ref + ": rejected steps");
      int tried = ref.accepted() + ref.rejected();
      // Evaluations as the reference spends them: f(t0) and one more for the initial step, then
      // six a tried step for first-same-as-last Dormand–Prince; ALF also starts v = f(t0, z0) and
      // spends one a tried step.
      long expected = solver instanceof DormandPrince5 ? 2 + 6L * tried : 3 + tried;
      assertEquals(expected, field.evaluations(), ref + ": evaluations of f");
      double[] end = s.end().value().toDoubleArray();
      for (int i = 0; i < end.length; i++) {
        // Same decisions, same formulas: the states differ by the rounding of each step's
        // arithmetic, a few ulp a step.
        double bound = tried * 8 * Math.ulp(1.0);
        assertEquals(ref.zEnd()[i], end[i], bound, ref + ": z(T)[" + i + "]");
      }
    }
  }
}
