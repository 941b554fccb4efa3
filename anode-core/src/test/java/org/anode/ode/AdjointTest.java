package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.api.Test;

/**
 * The continuous adjoint against the exact gradient of the discrete forward pass (store-all): for a
 * smooth field its error shrinks as dt → 0; for ReLU conv blocks with batch norm it is far larger
 * than ANODE's at the same N_t (the ANODE paper's finding).
 */
class AdjointTest {
  final Backend be = Backends.get();

  /** Largest relative error over the input and parameter gradients. */
  static double maxError(ReferenceNetworks.Step ref, ReferenceNetworks.Step other) {
    double e = GradientCheck.relativeError(ref.inputGrad(), other.inputGrad());
    for (Map.Entry<String, double[]> g : ref.paramGrads().entrySet()) {
      e =
          Math.max(
              e, GradientCheck.relativeError(g.getValue(), other.paramGrads().get(g.getKey())));
    }
    return e;
  }

  static final class Smooth extends Module {
    final OdeBlock block;

    Smooth(Backend be, Solver solver, int n, GradientMethod m) {
      ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 8);
      block =
          registerModule(
              "ode", new OdeBlock(new TanhField(f, 5), solver, 0, 1, Stepping.fixed(n), m));
    }

    @Override
    public org.anode.autodiff.Variable forward(org.anode.autodiff.Variable x) {
      return block.forward(x);
    }
  }

  @Test
  void smoothFieldAdjointErrorShrinksWithStepSize() {
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 3, 5);
      Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 3, 5);
      for (Supplier<Solver> solver :
          java.util.List.<Supplier<Solver>>of(Euler::new, RungeKutta2::new)) {
        double previous = Double.POSITIVE_INFINITY;
        StringBuilder report = new StringBuilder(solver.get().name() + " adjoint error:");
        double first = 0;
        for (int n : new int[] {2, 4, 8, 16, 32}) {
          ReferenceNetworks.Step ref =
              ReferenceNetworks.step(new Smooth(be, solver.get(), n, new StoreAllGradient()), x, r);
          ReferenceNetworks.Step adj =
              ReferenceNetworks.step(new Smooth(be, solver.get(), n, new AdjointGradient()), x, r);
          double e = maxError(ref, adj);
          report.append(String.format(" N_t=%d %.2e", n, e));
          assertTrue(e < previous, report.toString());
          if (n == 2) {
            first = e;
          }
          previous = e;
        }
        System.out.println(report);
        assertTrue(previous < first / 8, report.toString());
      }
    }
  }

  @Test
  void reluConvBlocksAdjointIsFarWorseThanAnode() {
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
      Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 4, 6, 6);
      StringBuilder report = new StringBuilder("relu conv+BN blocks, rk2:");
      for (int n : new int[] {2, 8}) {
        ReferenceNetworks.Step ref = ReferenceNetworks.step(stack(n, StoreAllGradient::new), x, r);
        double anode =
            maxError(ref, ReferenceNetworks.step(stack(n, CheckpointedGradient::new), x, r));
        double adjoint =
            maxError(ref, ReferenceNetworks.step(stack(n, AdjointGradient::new), x, r));
        report.append(String.format(" N_t=%d anode %.2e adjoint %.2e;", n, anode, adjoint));
        assertTrue(anode <= 1e-12, report.toString());
        assertTrue(adjoint > 1e6 * anode && adjoint > 1e-4, report.toString());
      }
      System.out.println(report);
    }
  }

  ReferenceNetworks.Stack stack(int n, Supplier<GradientMethod> m) {
    return new ReferenceNetworks.Stack(
        be, DType.FLOAT64, 17, 3, 4, true, RungeKutta2::new, Stepping.fixed(n), m);
  }
}
