package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ANODE and revolve against store-all backprop on three stacked conv ODE blocks with batch norm and
 * ReLU: loss, input gradient and every parameter gradient agree to ≤ 1e-12 relative in float64 (≤
 * 1e-5 in float32), and batch norm's running statistics after the step are identical.
 */
class GradientEquivalenceTest {
  final Backend be = Backends.get();
  TensorScope scope;

  @BeforeEach
  void open() {
    scope = TensorScope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  record Config(String name, Supplier<Solver> solver, Stepping stepping) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<Config> configs() {
    return List.of(
        new Config("euler", Euler::new, Stepping.fixed(4)),
        new Config("rk2", RungeKutta2::new, Stepping.fixed(3)),
        new Config("rk4", RungeKutta4::new, Stepping.fixed(3)),
        new Config("dopri5 fixed", DormandPrince5::new, Stepping.fixed(2)),
        new Config("dopri5 adaptive", DormandPrince5::new, Stepping.adaptive(1e-3, 1e-3)));
  }

  /** The configurations with a grid known before the solve. */
  static List<Config> fixedConfigs() {
    return configs().stream().filter(c -> c.stepping() instanceof Stepping.Fixed).toList();
  }

  ReferenceNetworks.Stack net(DType dtype, Config c, Supplier<GradientMethod> method) {
    return new ReferenceNetworks.Stack(be, dtype, 17, 3, 4, true, c.solver(), c.stepping(), method);
  }

  void compare(String what, ReferenceNetworks.Step ref, ReferenceNetworks.Step other, double tol) {
    assertEquals(ref.loss(), other.loss(), tol * Math.abs(ref.loss()), what + ": loss");
    double e = GradientCheck.relativeError(ref.inputGrad(), other.inputGrad());
    assertTrue(e <= tol, what + ": input gradient relative error " + e);
    for (Map.Entry<String, double[]> g : ref.paramGrads().entrySet()) {
      double pe = GradientCheck.relativeError(g.getValue(), other.paramGrads().get(g.getKey()));
      assertTrue(pe <= tol, what + ": " + g.getKey() + " relative error " + pe);
    }
  }

  void compareRunningStats(String what, ReferenceNetworks.Stack a, ReferenceNetworks.Stack b) {
    Map<String, Tensor> sa = a.buffers();
    Map<String, Tensor> sb = b.buffers();
    assertEquals(sa.keySet(), sb.keySet());
    assertEquals(12, sa.size()); // 3 blocks × 2 batch norms × (mean, var)
    for (String k : sa.keySet()) {
      assertArrayEquals(sa.get(k).toDoubleArray(), sb.get(k).toDoubleArray(), what + ": " + k);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void anodeAndRevolveEqualStoreAllInFloat64(Config c) {
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
    Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 4, 6, 6);
    ReferenceNetworks.Stack storeAll = net(DType.FLOAT64, c, StoreAllGradient::new);
    ReferenceNetworks.Stack anode = net(DType.FLOAT64, c, CheckpointedGradient::new);
    ReferenceNetworks.Stack paper =
        net(DType.FLOAT64, c, CheckpointedGradient::recomputingEveryBlock);
    ReferenceNetworks.Stack revolve = net(DType.FLOAT64, c, () -> new RevolveGradient(2));
    ReferenceNetworks.Step ref = ReferenceNetworks.step(storeAll, x, r);
    compare(c + " anode", ref, ReferenceNetworks.step(anode, x, r), 1e-12);
    compare(c + " anode, every block recomputed", ref, ReferenceNetworks.step(paper, x, r), 1e-12);
    compare(c + " revolve(2)", ref, ReferenceNetworks.step(revolve, x, r), 1e-12);
    compareRunningStats(c + " anode", storeAll, anode);
    compareRunningStats(c + " anode, every block recomputed", storeAll, paper);
    compareRunningStats(c + " revolve", storeAll, revolve);
    for (int i = 0; i < anode.blocks().size(); i++) {
      OdeBlock b = anode.blocks().get(i);
      OdeBlock p = paper.blocks().get(i);
      if (c.stepping() instanceof Stepping.Fixed fixed) {
        // One recomputation per block: the backward evaluates f exactly as often as the forward
        // did. The loss saves r, so the last block, kept recorded at first, gave way to it.
        long perPass = fixed.steps() * (long) b.solver().stages();
        assertEquals(perPass, b.forwardEvaluations());
        assertEquals(perPass, b.backwardEvaluations(), "anode evaluations, block " + i);
        assertEquals(perPass, p.backwardEvaluations(), "anode (paper) evaluations, block " + i);
      } else {
        // The forward also tried rejected steps and estimated errors; the replay did not.
        assertEquals(0, b.backwardEvaluations() % 6);
        assertTrue(b.backwardEvaluations() < b.forwardEvaluations());
      }
    }
    paper.close();
    storeAll.close();
    anode.close();
    revolve.close();
  }

  /**
   * A gradient method written in another package against the public {@link BlockContext} alone (a
   * second checkpoint halfway) gives store-all's gradients and running statistics.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixedConfigs")
  void aThirdPartyMethodOnTheBlockContextEqualsStoreAll(Config c) {
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
    Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 4, 6, 6);
    ReferenceNetworks.Stack storeAll = net(DType.FLOAT64, c, StoreAllGradient::new);
    ReferenceNetworks.Stack midpoint =
        net(DType.FLOAT64, c, org.anode.thirdparty.MidpointCheckpointGradient::new);
    compare(
        c + " midpoint checkpoint",
        ReferenceNetworks.step(storeAll, x, r),
        ReferenceNetworks.step(midpoint, x, r),
        1e-12);
    compareRunningStats(c + " midpoint checkpoint", storeAll, midpoint);
    storeAll.close();
    midpoint.close();
  }

  /**
   * A network that ends in an ODE block, under a loss that saves nothing: ANODE sweeps the last
   * block as recorded in the forward pass instead of recomputing it, with the same gradients, the
   * same running statistics and the same peak as recomputing every block.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void keptLastBlockEqualsStoreAll(Config c) {
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
    ReferenceNetworks.Stack storeAll = net(DType.FLOAT64, c, StoreAllGradient::new);
    ReferenceNetworks.Stack anode = net(DType.FLOAT64, c, CheckpointedGradient::new);
    ReferenceNetworks.Stack paper =
        net(DType.FLOAT64, c, CheckpointedGradient::recomputingEveryBlock);
    ReferenceNetworks.Step ref = ReferenceNetworks.step(storeAll, x, null);
    ReferenceNetworks.Step kept = ReferenceNetworks.step(anode, x, null);
    ReferenceNetworks.Step recomputed = ReferenceNetworks.step(paper, x, null);
    compare(c + " anode, last block kept", ref, kept, 1e-12);
    compareRunningStats(c + " anode, last block kept", storeAll, anode);
    assertEquals(recomputed.peakBytes(), kept.peakBytes(), "peak saved bytes");
    for (int i = 0; i < anode.blocks().size(); i++) {
      OdeBlock b = anode.blocks().get(i);
      boolean last = i == anode.blocks().size() - 1;
      if (c.stepping() instanceof Stepping.Fixed) {
        assertEquals(
            last ? 0 : b.forwardEvaluations(),
            b.backwardEvaluations(),
            "anode evaluations, block " + i);
      } else {
        // Adaptive blocks are not kept: their forward pass tries steps it then rejects.
        assertTrue(b.backwardEvaluations() > 0);
      }
    }
    storeAll.close();
    anode.close();
    paper.close();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void anodeAndRevolveEqualStoreAllInFloat32(Config c) {
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT32, 1, 2, 4, 6, 6);
    Tensor r = ReferenceNetworks.input(be, DType.FLOAT32, 2, 2, 4, 6, 6);
    ReferenceNetworks.Stack storeAll = net(DType.FLOAT32, c, StoreAllGradient::new);
    ReferenceNetworks.Stack anode = net(DType.FLOAT32, c, CheckpointedGradient::new);
    ReferenceNetworks.Stack revolve = net(DType.FLOAT32, c, () -> new RevolveGradient(2));
    ReferenceNetworks.Step ref = ReferenceNetworks.step(storeAll, x, r);
    compare(c + " anode f32", ref, ReferenceNetworks.step(anode, x, r), 1e-5);
    compare(c + " revolve f32", ref, ReferenceNetworks.step(revolve, x, r), 1e-5);
    storeAll.close();
    anode.close();
    revolve.close();
  }
}
