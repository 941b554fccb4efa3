package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The binomial schedule's recomputation count, in closed form and as actually executed. */
class RevolveScheduleTest {
  final Backend be = Backends.get();

  @ParameterizedTest(name = "n={0}, s={1}: {2} extra steps")
  @CsvSource({"10,1,45", "10,2,20", "10,3,15", "20,3,45", "50,4,144", "100,5,316"})
  void knownValues(int n, int s, long extra) {
    assertEquals(extra, BinomialSchedule.extraSteps(n, s));
    assertEquals(extra, new BinomialSchedule(s).cost(n));
  }

  @Test
  void scheduleAttainsTheClosedFormEverywhere() {
    for (int s = 1; s <= 6; s++) {
      BinomialSchedule schedule = new BinomialSchedule(s);
      for (int n = 1; n <= 80; n++) {
        assertEquals(BinomialSchedule.extraSteps(n, s), schedule.cost(n), "n=" + n + ", s=" + s);
      }
    }
  }

  static final class Chain extends Module {
    final OdeBlock block;

    Chain(ParameterFactory f, int n, GradientMethod m) {
      block =
          registerModule(
              "ode", new OdeBlock(new TanhField(f, 3), new Euler(), 0, 1, Stepping.fixed(n), m));
    }

    @Override
    public org.anode.autodiff.Variable forward(org.anode.autodiff.Variable x) {
      return block.forward(x);
    }
  }

  @ParameterizedTest(name = "n={0}, s={1}")
  @CsvSource({"10,1,45", "10,2,20", "10,3,15", "20,3,45", "50,4,144", "100,5,316"})
  void executedRecomputationsMatchTheFormulaAndGradientsMatchStoreAll(int n, int s, long extra) {
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 3, 2, 3);
      Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 4, 2, 3);
      Chain ref = new Chain(new ParameterFactory(be, DType.FLOAT64, 5), n, new StoreAllGradient());
      Chain rev = new Chain(new ParameterFactory(be, DType.FLOAT64, 5), n, new RevolveGradient(s));
      ReferenceNetworks.Step a = ReferenceNetworks.step(ref, x, r);
      ReferenceNetworks.Step b = ReferenceNetworks.step(rev, x, r);
      assertEquals(n + extra, rev.block.unrecordedSteps(), "forward steps without recording");
      assertEquals(n, rev.block.forwardEvaluations());
      assertEquals(n + extra, rev.block.backwardEvaluations(), "extra steps plus each step once");
      assertTrue(GradientCheck.relativeError(a.inputGrad(), b.inputGrad()) <= 1e-12);
      for (Map.Entry<String, double[]> g : a.paramGrads().entrySet()) {
        assertTrue(
            GradientCheck.relativeError(g.getValue(), b.paramGrads().get(g.getKey())) <= 1e-12,
            g.getKey());
      }
    }
  }
}
