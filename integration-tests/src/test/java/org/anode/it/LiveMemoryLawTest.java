package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Module;
import org.anode.ode.AdjointGradient;
import org.anode.ode.CheckpointedGradient;
import org.anode.ode.Euler;
import org.anode.ode.GradientMethod;
import org.anode.ode.RevolveGradient;
import org.anode.ode.Stepping;
import org.anode.ode.StoreAllGradient;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The memory laws of the gradient methods on the second meter, live bytes (every tensor allocated
 * and not yet freed, {@link LiveMemory}), on all three backends: L blocks of f = conv3×3 → ReLU →
 * conv3×3 (4 channels), Euler with N_t steps, z of shape [2, 4, 6, 6] float64, loss Σ z_L. One
 * recorded Euler step saves S_step = 2·|z|.
 *
 * <ul>
 *   <li>store-all grows with L·N_t: each added step adds at least S_step;
 *   <li>ANODE grows with L + N_t, not L·N_t: at most (L − 1)·|z| + N_t·S_step plus a working set
 *       that does not depend on L or N_t;
 *   <li>revolve and the adjoint are flat in N_t: the same peak at N_t = 4 and 32 (revolve at N_t =
 *       2 needs no recursion and peaks lower).
 * </ul>
 *
 * The working set (a step's temporaries, gradients in flight) is bounded by {@link #WORK} |z|: what
 * is alive at once beyond the law, measured here at 8–12 |z| for every method and backend.
 */
class LiveMemoryLawTest {
  static final long Z = 2 * 4 * 6 * 6 * 8; // |z| in bytes
  static final long S_STEP = 2 * Z;
  static final long WORK = 14;

  /** The step's peak live bytes above what was live before it (parameters and input). */
  static long livePeak(Backend be, int blocks, int steps, Supplier<GradientMethod> method) {
    return livePeak(be, blocks, steps, method, Euler::new);
  }

  static long livePeak(
      Backend be,
      int blocks,
      int steps,
      Supplier<GradientMethod> method,
      Supplier<org.anode.ode.Solver> solver) {
    try (TensorScope outer = TensorScope.open()) {
      Module net =
          new ReferenceNetworks.Stack(
              be, DType.FLOAT64, 3, blocks, 4, false, solver, Stepping.fixed(steps), method);
      double[] x = new double[2 * 4 * 6 * 6];
      for (int i = 0; i < x.length; i++) {
        x[i] = Math.sin(i) * 0.5;
      }
      Tensor input = be.fromArray(x, Shape.of(2, 4, 6, 6));
      long before = LiveMemory.currentBytes();
      LiveMemory.resetPeak();
      try (TensorScope step = TensorScope.open();
          Tape tape = Tape.record()) {
        Variable in = Variable.leaf(input);
        tape.backward(Ops.sum(net.forward(in), false));
        net.zeroGrad();
        in.zeroGrad();
      }
      long peak = LiveMemory.peakBytes() - before;
      assertEquals(before, LiveMemory.currentBytes(), "live bytes after the step");
      net.close();
      return peak;
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"nd4j", "tensorflow", "djl"})
  void storeAllGrowsWithLTimesNt(String backend) {
    Backend be = Backends.get(backend);
    for (int l = 1; l <= 3; l++) {
      long n2 = livePeak(be, l, 2, StoreAllGradient::new);
      long n8 = livePeak(be, l, 8, StoreAllGradient::new);
      assertTrue(
          n8 - n2 >= 6L * l * S_STEP,
          backend
              + " L="
              + l
              + ": N_t 2 → 8 added "
              + (n8 - n2) / Z
              + " |z|, expected ≥ "
              + 12 * l);
      assertTrue(n8 <= l * 8 * S_STEP + WORK * Z, backend + " L=" + l + ": " + n8 / Z + " |z|");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"nd4j", "tensorflow", "djl"})
  void anodeGrowsWithLPlusNt(String backend) {
    Backend be = Backends.get(backend);
    for (int l = 1; l <= 3; l++) {
      for (int n : new int[] {2, 8}) {
        long peak = livePeak(be, l, n, CheckpointedGradient::new);
        long law = (l - 1) * Z + n * S_STEP;
        assertTrue(
            peak >= law && peak <= law + WORK * Z,
            backend + " L=" + l + ", N_t=" + n + ": " + peak / (double) Z + " |z|, law " + law / Z);
      }
    }
    long storeAll = livePeak(be, 3, 8, StoreAllGradient::new);
    long anode = livePeak(be, 3, 8, CheckpointedGradient::new);
    assertTrue(anode < storeAll / 2, backend + ": anode " + anode + " vs store-all " + storeAll);
  }

  /**
   * The reversible method with the asynchronous leapfrog solver is flat in N_t: the final (z, v) of
   * each block and one step's working set, whatever the number of steps.
   */
  @ParameterizedTest
  @ValueSource(strings = {"nd4j", "tensorflow", "djl"})
  void theReversibleMethodIsFlatInNt(String backend) {
    Backend be = Backends.get(backend);
    Supplier<org.anode.ode.Solver> alf = org.anode.ode.AsynchronousLeapfrog::new;
    for (int l = 1; l <= 3; l += 2) {
      long n4 = livePeak(be, l, 4, org.anode.ode.ReversibleGradient::new, alf);
      long n32 = livePeak(be, l, 32, org.anode.ode.ReversibleGradient::new, alf);
      long storeAll = livePeak(be, l, 32, StoreAllGradient::new, alf);
      assertEquals(n4, n32, backend + " L=" + l + ": " + n4 / Z + " vs " + n32 / Z + " |z|");
      assertTrue(n32 <= 2L * l * Z + WORK * Z, backend + " L=" + l + ": " + n32 / Z + " |z|");
      assertTrue(n32 * 4 < storeAll, backend + ": reversible " + n32 + " vs store-all " + storeAll);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"nd4j", "tensorflow", "djl"})
  void revolveAndTheAdjointAreFlatInNt(String backend) {
    Backend be = Backends.get(backend);
    for (Supplier<GradientMethod> m :
        List.<Supplier<GradientMethod>>of(() -> new RevolveGradient(2), AdjointGradient::new)) {
      String name = m.get().name();
      for (int l = 1; l <= 3; l += 2) {
        long n4 = livePeak(be, l, 4, m);
        long n32 = livePeak(be, l, 32, m);
        assertTrue(
            n32 == n4,
            backend
                + " "
                + name
                + " L="
                + l
                + ": N_t 4 → 32 moved the peak by "
                + (n32 - n4) / (double) Z
                + " |z|");
        assertTrue(
            n32 <= (l + 1) * Z + WORK * Z,
            backend + " " + name + " L=" + l + ": " + n32 / (double) Z + " |z|");
      }
    }
  }
}
