package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.Variable;
import org.anode.nn.Conv2d;
import org.anode.nn.Dropout;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Dropout inside f: ANODE's and revolve's recomputations replay the original masks exactly, so
 * their gradients still equal store-all's to round-off; a new forward pass draws new masks.
 */
class StochasticReplayTest {
  final Backend be = Backends.get();

  static final class Net extends Module {
    final OdeBlock block;

    Net(Backend be, Solver solver, Stepping stepping, GradientMethod m) {
      ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 21);
      Module field =
          new Sequential(
              new Conv2d(f, 3, 3, 3, Conv2dSpec.of(1, 1), true),
              new Dropout(0.3, 99),
              new ReLU(),
              new Conv2d(f, 3, 3, 3, Conv2dSpec.of(1, 1), true));
      block =
          registerModule(
              "ode", new OdeBlock(VectorField.autonomous(field), solver, 0, 1, stepping, m));
    }

    @Override
    public Variable forward(Variable x) {
      return block.forward(x);
    }
  }

  /**
   * The reversible method's inverse and recorded steps evaluate f as the forward pass did (ALF: the
   * same step; reversible Heun: the step before), so they draw the same masks.
   */
  @ParameterizedTest
  @ValueSource(strings = {"alf", "reversible-heun"})
  void reversibleStepsReplayTheMasks(String solverName) {
    Supplier<Solver> solver =
        solverName.equals("alf") ? AsynchronousLeapfrog::new : ReversibleHeun::new;
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 3, 5, 5);
      Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 3, 5, 5);
      Stepping stepping = Stepping.fixed(4);
      ReferenceNetworks.Step ref =
          ReferenceNetworks.step(new Net(be, solver.get(), stepping, new StoreAllGradient()), x, r);
      ReferenceNetworks.Step rev =
          ReferenceNetworks.step(
              new Net(be, solver.get(), stepping, new ReversibleGradient()), x, r);
      assertEquals(ref.loss(), rev.loss(), 1e-12 * Math.abs(ref.loss()));
      double e = GradientCheck.relativeError(ref.inputGrad(), rev.inputGrad());
      assertTrue(e <= 1e-10, solverName + ": input gradient " + e);
      for (Map.Entry<String, double[]> g : ref.paramGrads().entrySet()) {
        double pe = GradientCheck.relativeError(g.getValue(), rev.paramGrads().get(g.getKey()));
        assertTrue(pe <= 1e-10, solverName + " " + g.getKey() + ": " + pe);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"rk4", "dopri5-adaptive"})
  void recomputationsReplayTheMasks(String solverName) {
    Supplier<Solver> solver = solverName.equals("rk4") ? RungeKutta4::new : DormandPrince5::new;
    Stepping stepping =
        solverName.equals("rk4") ? Stepping.fixed(5) : Stepping.adaptive(1e-3, 1e-3);
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 3, 5, 5);
      Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 3, 5, 5);
      ReferenceNetworks.Step ref =
          ReferenceNetworks.step(new Net(be, solver.get(), stepping, new StoreAllGradient()), x, r);
      for (Supplier<GradientMethod> m :
          java.util.List.<Supplier<GradientMethod>>of(
              CheckpointedGradient::new, () -> new RevolveGradient(2))) {
        ReferenceNetworks.Step other =
            ReferenceNetworks.step(new Net(be, solver.get(), stepping, m.get()), x, r);
        assertEquals(ref.loss(), other.loss(), 1e-12 * Math.abs(ref.loss()));
        assertTrue(GradientCheck.relativeError(ref.inputGrad(), other.inputGrad()) <= 1e-12);
        for (Map.Entry<String, double[]> g : ref.paramGrads().entrySet()) {
          assertTrue(
              GradientCheck.relativeError(g.getValue(), other.paramGrads().get(g.getKey()))
                  <= 1e-12,
              g.getKey());
        }
      }
      // A second forward pass of the same network is a new draw.
      Net net = new Net(be, solver.get(), stepping, new CheckpointedGradient());
      double first = ReferenceNetworks.step(net, x, r).loss();
      double second = ReferenceNetworks.step(net, x, r).loss();
      assertNotEquals(first, second);
    }
  }
}
