package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.Variable;
import org.anode.nn.Module;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reversible solvers and {@link ReversibleGradient}: the inverse step rebuilds the state, the
 * gradient equals store-all's through the same solver on the ODE-ResNet field (conv-BN-ReLU, batch
 * statistics replayed), ANODE works with them too, and live memory does not grow with N_t.
 */
class ReversibleGradientTest {
  final Backend be = Backends.get();

  record Case(String name, Supplier<Solver> solver) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<Case> solvers() {
    return List.of(
        new Case("alf", AsynchronousLeapfrog::new),
        new Case("alf(η=0.8)", () -> new AsynchronousLeapfrog(0.8)),
        new Case("reversible-heun", ReversibleHeun::new));
  }

  ReferenceNetworks.Stack net(Case c, int nt, Supplier<GradientMethod> method) {
    return new ReferenceNetworks.Stack(
        be, DType.FLOAT64, 23, 2, 4, true, c.solver(), Stepping.fixed(nt), method);
  }

  void compare(String what, ReferenceNetworks.Step ref, ReferenceNetworks.Step other, double tol) {
    assertEquals(ref.loss(), other.loss(), tol * Math.abs(ref.loss()), what + ": loss");
    double e = GradientCheck.relativeError(ref.inputGrad(), other.inputGrad());
    assertTrue(e <= tol, what + ": input gradient relative error " + e);
    ref.paramGrads()
        .forEach(
            (k, g) -> {
              double pe = GradientCheck.relativeError(g, other.paramGrads().get(k));
              assertTrue(pe <= tol, what + ": " + k + " relative error " + pe);
            });
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("solvers")
  void reversibleAndAnodeEqualStoreAllThroughTheSameSolver(Case c) {
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
    Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 4, 6, 6);
    for (int nt : new int[] {1, 4}) {
      ReferenceNetworks.Step ref = ReferenceNetworks.step(net(c, nt, StoreAllGradient::new), x, r);
      ReferenceNetworks.Stack reversible = net(c, nt, ReversibleGradient::new);
      compare(
          c + " N_t=" + nt + " reversible", ref, ReferenceNetworks.step(reversible, x, r), 1e-10);
      compare(
          c + " N_t=" + nt + " anode",
          ref,
          ReferenceNetworks.step(net(c, nt, CheckpointedGradient::new), x, r),
          1e-12);
      int perStep = c.solver().get().evaluationsPerStep();
      OdeBlock b = reversible.blocks().get(0);
      // Forward: the start and N_t steps; backward: N_t inverses, N_t recorded steps, the start.
      assertEquals(1 + nt * perStep, b.forwardEvaluations());
      assertEquals(2 * nt * perStep + 1, b.backwardEvaluations());
    }
  }

  /**
   * Adaptive ALF (MALI's error estimate h·(u − v)): the reversible method replays the accepted
   * steps backwards and equals store-all, which replays them forwards; the solve meets its
   * tolerance on an ODE with a known solution.
   */
  @Test
  void adaptiveAlfReplaysItsAcceptedSteps() {
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
    Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 4, 6, 6);
    Stepping adaptive = Stepping.adaptive(1e-4, 1e-4);
    ReferenceNetworks.Step ref =
        ReferenceNetworks.step(
            new ReferenceNetworks.Stack(
                be,
                DType.FLOAT64,
                23,
                2,
                4,
                true,
                AsynchronousLeapfrog::new,
                adaptive,
                StoreAllGradient::new),
            x,
            r);
    ReferenceNetworks.Stack rev =
        new ReferenceNetworks.Stack(
            be,
            DType.FLOAT64,
            23,
            2,
            4,
            true,
            AsynchronousLeapfrog::new,
            adaptive,
            ReversibleGradient::new);
    compare("adaptive alf reversible", ref, ReferenceNetworks.step(rev, x, r), 1e-10);
    assertTrue(rev.blocks().get(0).steps() > 1, "steps " + rev.blocks().get(0).steps());
    try (TensorScope scope = TensorScope.open()) {
      for (double tol : new double[] {1e-3, 1e-5}) {
        OdeBlock block =
            new OdeBlock(
                new SolverConvergenceTest.Forced(),
                new AsynchronousLeapfrog(),
                0,
                1.5,
                Stepping.adaptive(tol, tol),
                new StoreAllGradient());
        Variable z = Variable.constant(be.fromArray(new double[] {0.7}, org.anode.api.Shape.of(1)));
        OdeBlock.Solution s = block.solveUnrecorded(z);
        double err = Math.abs(s.end().value().item() - SolverConvergenceTest.exact(0.7, 1.5));
        assertTrue(err < 20 * tol, "tol " + tol + ": error " + err + " in " + s.grid().steps());
        System.out.printf(
            "alf adaptive tol %.0e: %d steps, error %.2e%n", tol, s.grid().steps(), err);
      }
    }
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new OdeBlock(
                new SolverConvergenceTest.Forced(),
                new ReversibleHeun(),
                0,
                1,
                Stepping.adaptive(1e-3, 1e-3),
                new StoreAllGradient()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("solvers")
  void theInverseRebuildsTheStartingState(Case c) {
    Solver solver = c.solver().get();
    ReversibleSolver rs = (ReversibleSolver) solver;
    try (TensorScope scope = TensorScope.open()) {
      OdeBlock block =
          new OdeBlock(
              new TanhField(new org.anode.nn.ParameterFactory(be, DType.FLOAT64, 5), 6),
              solver,
              0,
              1,
              Stepping.fixed(16),
              new ReversibleGradient());
      Tensor z0 = ReferenceNetworks.input(be, DType.FLOAT64, 3, 2, 6);
      BlockContext ctx = new BlockContext(block);
      BlockContext.CarriedSolution solved = ctx.solveCarried(Variable.constant(z0));
      List<Tensor> state = solved.state();
      TimeGrid grid = solved.grid();
      for (int i = grid.steps() - 1; i >= 0; i--) {
        state = ctx.inverse(grid, i, state);
      }
      double err = GradientCheck.relativeError(z0.toDoubleArray(), state.get(0).toDoubleArray());
      assertTrue(err < 1e-13, c + ": z(0) rebuilt with relative error " + err);
      assertEquals(solver.carried(), state.size());
      assertTrue(rs.evaluationsPerStep() == 1);
    }
  }

  /**
   * The continuous adjoint integrates its augmented system with the reversible solvers' own carried
   * state: on a smooth field its gradient approaches the discrete one as N_t grows, and revolve,
   * which restarts a block mid-way, refuses a solver that carries more than z.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("solvers")
  void theAdjointAndRevolveRunWithThem(Case c) {
    double[] errors = new double[2];
    int k = 0;
    for (int nt : new int[] {8, 32}) {
      Supplier<Module> field =
          () -> new TanhField(new org.anode.nn.ParameterFactory(be, DType.FLOAT64, 5), 6);
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 3, 2, 6);
      ReferenceNetworks.Step ref =
          ReferenceNetworks.step(single(field, c, nt, new StoreAllGradient()), x, null);
      ReferenceNetworks.Step adj =
          ReferenceNetworks.step(single(field, c, nt, new AdjointGradient()), x, null);
      errors[k++] = GradientCheck.relativeError(ref.inputGrad(), adj.inputGrad());
    }
    assertTrue(
        errors[1] < errors[0] && errors[1] < 1e-2,
        c + ": adjoint errors " + errors[0] + ", " + errors[1]);
    // Revolve snapshots the whole carried state ((z, v) for ALF) and restarts the solver from
    // z0 at step 0: the same gradients as store-all through the same solver.
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
    Tensor r = ReferenceNetworks.input(be, DType.FLOAT64, 2, 2, 4, 6, 6);
    ReferenceNetworks.Step ref = ReferenceNetworks.step(net(c, 5, StoreAllGradient::new), x, r);
    for (int snapshots : new int[] {1, 2, 3}) {
      compare(
          c + " revolve:" + snapshots,
          ref,
          ReferenceNetworks.step(net(c, 5, () -> new RevolveGradient(snapshots)), x, r),
          1e-12);
    }
  }

  private Module single(Supplier<Module> field, Case c, int nt, GradientMethod method) {
    return new OdeBlock(
        (VectorField) field.get(), c.solver().get(), 0, 1, Stepping.fixed(nt), method);
  }

  /** Peak live bytes of one training step of a 2-block stack at N_t, above what was live before. */
  long livePeak(Case c, int nt, Supplier<GradientMethod> method) {
    ReferenceNetworks.Stack net = net(c, nt, method);
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 8, 4, 8, 8);
    ReferenceNetworks.step(net, x, null); // warm-up: lazily created buffers
    long before = LiveMemory.currentBytes();
    LiveMemory.resetPeak();
    ReferenceNetworks.step(net, x, null);
    return LiveMemory.peakBytes() - before;
  }

  @Test
  void liveMemoryIsFlatInTheNumberOfSteps() {
    Case alf = solvers().get(0);
    long z = 8L * 4 * 8 * 8 * 8;
    long r4 = livePeak(alf, 4, ReversibleGradient::new);
    long r16 = livePeak(alf, 16, ReversibleGradient::new);
    long s4 = livePeak(alf, 4, StoreAllGradient::new);
    long s16 = livePeak(alf, 16, StoreAllGradient::new);
    System.out.printf(
        "live peak, |z| = %d bytes: reversible %d → %d, store-all %d → %d (N_t 4 → 16)%n",
        z, r4, r16, s4, s16);
    assertEquals(r4, r16, z / 8.0, "reversible: flat in N_t");
    assertTrue(s16 - s4 > 12 * z, "store-all grows by at least |z| per step");
    assertTrue(r16 < s4, "reversible at N_t = 16 below store-all at N_t = 4");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("solvers")
  void memoryBudgetPredictsTheirSavedBytes(Case c) {
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
    ReferenceNetworks.Stack probe =
        new ReferenceNetworks.Stack(
            be,
            DType.FLOAT64,
            23,
            2,
            4,
            false,
            c.solver(),
            Stepping.fixed(4),
            StoreAllGradient::new);
    MemoryBudget.Advice advice =
        MemoryBudget.advise(probe, be, x.shape(), DType.FLOAT64, Long.MAX_VALUE);
    java.util.Map<String, Long> predicted = new java.util.HashMap<>();
    advice.considered().forEach(o -> predicted.put(o.method(), o.predictedBytes()));
    assertEquals(
        java.util.Set.of("store-all", "anode", "reversible", "revolve:3", "revolve:2", "revolve:1"),
        predicted.keySet());
    for (String m : predicted.keySet()) {
      ReferenceNetworks.Stack net =
          new ReferenceNetworks.Stack(
              be,
              DType.FLOAT64,
              23,
              2,
              4,
              false,
              c.solver(),
              Stepping.fixed(4),
              () -> GradientMethod.named(m));
      long measured = ReferenceNetworks.step(net, x, null).peakBytes();
      if (m.equals("store-all")) {
        assertEquals(predicted.get(m), measured, c + " " + m);
      } else {
        assertTrue(
            measured <= predicted.get(m), c + " " + m + ": " + measured + " > " + predicted.get(m));
      }
    }
  }

  @Test
  void refusesSolversThatCannotBeInverted() {
    ReferenceNetworks.Stack rk =
        new ReferenceNetworks.Stack(
            be,
            DType.FLOAT64,
            1,
            1,
            4,
            false,
            RungeKutta2::new,
            Stepping.fixed(2),
            ReversibleGradient::new);
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 1, 4, 6, 6);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ReferenceNetworks.step(rk, x, null));
    assertTrue(e.getMessage().contains("reversible solver"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new AsynchronousLeapfrog(0.5));
    assertThrows(IllegalArgumentException.class, () -> new AsynchronousLeapfrog(0));
    assertEquals("reversible", GradientMethod.named("reversible").name());
    assertEquals("anode-recompute-all", GradientMethod.named("anode-recompute-all").name());
  }
}
