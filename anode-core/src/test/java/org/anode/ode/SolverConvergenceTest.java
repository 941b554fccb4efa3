package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Shape;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.junit.jupiter.api.Test;

/**
 * Order of convergence of each solver on {@code dz/dt = −2z + sin t}, whose solution is {@code z(t)
 * = (z0 + 1/5)·e^{−2t} + (2 sin t − cos t)/5}: the slope of log(error) against log(dt) must be
 * within ±0.2 of the theoretical order. The field uses t, so the stage times are checked too.
 */
class SolverConvergenceTest {
  final Backend be = Backends.get();

  static final class Forced extends VectorField {
    @Override
    protected Variable compute(double t, Variable z) {
      return Ops.addScalar(Ops.mulScalar(z, -2.0), Math.sin(t));
    }
  }

  static double exact(double z0, double t) {
    return (z0 + 0.2) * Math.exp(-2 * t) + (2 * Math.sin(t) - Math.cos(t)) / 5;
  }

  double slope(Solver solver, int[] steps) {
    double z0 = 0.7;
    double t1 = 1.5;
    double[] x = new double[steps.length];
    double[] y = new double[steps.length];
    try (TensorScope scope = TensorScope.open()) {
      for (int k = 0; k < steps.length; k++) {
        OdeBlock block =
            new OdeBlock(
                new Forced(), solver, 0, t1, Stepping.fixed(steps[k]), new StoreAllGradient());
        Variable z = Variable.constant(be.fromArray(new double[] {z0}, Shape.of(1)));
        double err = Math.abs(block.forward(z).value().item() - exact(z0, t1));
        assertEquals(
            steps[k] * (long) solver.evaluationsPerStep() + solver.evaluationsToBegin(),
            block.forwardEvaluations());
        x[k] = Math.log(t1 / steps[k]);
        y[k] = Math.log(err);
      }
    }
    double mx = 0;
    double my = 0;
    for (int k = 0; k < x.length; k++) {
      mx += x[k] / x.length;
      my += y[k] / x.length;
    }
    double num = 0;
    double den = 0;
    for (int k = 0; k < x.length; k++) {
      num += (x[k] - mx) * (y[k] - my);
      den += (x[k] - mx) * (x[k] - mx);
    }
    return num / den;
  }

  @Test
  void ordersMatchTheory() {
    record Case(Solver solver, int[] steps) {}
    List<Case> cases =
        List.of(
            new Case(new Euler(), new int[] {16, 32, 64, 128}),
            new Case(new RungeKutta2(), new int[] {16, 32, 64, 128}),
            new Case(new Heun(), new int[] {16, 32, 64, 128}),
            new Case(new RungeKutta4(), new int[] {16, 32, 64, 128}),
            new Case(new DormandPrince5(), new int[] {16, 32, 64, 128}),
            new Case(new AsynchronousLeapfrog(), new int[] {16, 32, 64, 128}),
            new Case(new AsynchronousLeapfrog(0.8), new int[] {16, 32, 64, 128}),
            // Its ŷ − y mode decays slowly here: asymptotic from about 128 steps on.
            new Case(new ReversibleHeun(), new int[] {128, 256, 512, 1024}));
    StringBuilder report = new StringBuilder();
    for (Case c : cases) {
      double p = slope(c.solver(), c.steps());
      report.append(String.format("%s %.3f; ", c.solver().name(), p));
      assertTrue(
          Math.abs(p - c.solver().order()) <= 0.2,
          c.solver().name() + ": slope " + p + " vs order " + c.solver().order());
    }
    System.out.println("convergence slopes: " + report);
  }

  @Test
  void adaptiveDopri5MeetsItsTolerance() {
    try (TensorScope scope = TensorScope.open()) {
      for (double tol : new double[] {1e-4, 1e-7}) {
        OdeBlock block =
            new OdeBlock(
                new Forced(),
                new DormandPrince5(),
                0,
                1.5,
                Stepping.adaptive(tol, tol),
                new StoreAllGradient());
        Variable z = Variable.constant(be.fromArray(new double[] {0.7}, Shape.of(1)));
        OdeBlock.Solution s = block.solveUnrecorded(z);
        double err = Math.abs(s.end().value().item() - exact(0.7, 1.5));
        assertTrue(err < 20 * tol, "tol " + tol + ": error " + err);
        assertEquals(1.5, s.grid().t(s.grid().steps()));
        System.out.printf(
            "dopri5 adaptive tol %.0e: %d steps, error %.2e%n", tol, s.grid().steps(), err);
      }
    }
  }
}
