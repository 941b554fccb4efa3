package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.ParameterFactory;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.api.Test;

/**
 * The memory laws of the gradient methods, asserted in bytes computed from the shapes: L blocks of
 * f = conv3×3 → ReLU → conv3×3 (4 channels) solved by Euler with N_t steps on z of shape [2, 4, 6,
 * 6] float64, loss Σ z_L (which saves nothing).
 *
 * <ul>
 *   <li>one recorded Euler step saves S_step = 2·|z| (the first conv's input z, and the ReLU output
 *       that the second conv also reads, once);
 *   <li>store-all peak = L·N_t·S_step;
 *   <li>ANODE peak = (L − 1)·|z| + N_t·S_step: the other blocks' inputs plus one block recomputed
 *       (whose input is already counted as its checkpoint);
 *   <li>revolve(s) peak = L·|z| + (s − 1)·|z| + S_step, whatever N_t.
 * </ul>
 */
class MemoryLawTest {
  static final long Z = 2 * 4 * 6 * 6 * 8; // |z| in bytes
  final Backend be = Backends.get();

  long peak(int blocks, int steps, Supplier<GradientMethod> method) {
    try (TensorScope scope = TensorScope.open()) {
      ReferenceNetworks.Stack net =
          new ReferenceNetworks.Stack(
              be, DType.FLOAT64, 3, blocks, 4, false, Euler::new, Stepping.fixed(steps), method);
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
      MemoryMeter meter = new MemoryMeter();
      try (Tape tape = Tape.record(meter)) {
        tape.backward(Ops.sum(net.forward(Variable.leaf(x)), false));
      }
      assertEquals(0, meter.currentBytes(), "everything released after backward");
      net.close();
      return meter.peakBytes();
    }
  }

  @Test
  void oneEulerStepSavesTwoStates() {
    try (TensorScope scope = TensorScope.open()) {
      ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 3);
      VectorField field = VectorField.autonomous(ReferenceNetworks.resnetField(f, 4, false));
      MemoryMeter meter = new MemoryMeter();
      try (Tape tape = Tape.record(meter)) {
        new Euler()
            .step(
                field,
                0,
                0.25,
                Variable.leaf(ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6)));
        assertEquals(2 * Z, meter.currentBytes());
      }
      field.close();
    }
  }

  @Test
  void storeAllGrowsWithLTimesNt() {
    long sStep = 2 * Z;
    for (int l = 1; l <= 3; l++) {
      for (int n : new int[] {2, 4, 8}) {
        assertEquals(l * n * sStep, peak(l, n, StoreAllGradient::new), "L=" + l + ", N_t=" + n);
      }
    }
  }

  @Test
  void anodeGrowsWithLPlusNt() {
    long sStep = 2 * Z;
    for (int l = 1; l <= 3; l++) {
      for (int n : new int[] {2, 4, 8}) {
        assertEquals(
            (l - 1) * Z + n * sStep,
            peak(l, n, CheckpointedGradient::new),
            "L=" + l + ", N_t=" + n);
      }
    }
    // The point of ANODE: 3 blocks of 8 steps keep 2 inputs + 8 steps, not 24 steps.
    assertEquals(2 * Z + 16 * Z, peak(3, 8, CheckpointedGradient::new));
    assertEquals(48 * Z, peak(3, 8, StoreAllGradient::new));
    // Keeping the last block recorded (the default) saves its recomputation at the same peak.
    assertEquals(2 * Z + 16 * Z, peak(3, 8, CheckpointedGradient::recomputingEveryBlock));
  }

  @Test
  void revolveDoesNotGrowWithNt() {
    for (int s = 1; s <= 3; s++) {
      final int snaps = s;
      long p8 = peak(3, 8, () -> new RevolveGradient(snaps));
      long p16 = peak(3, 16, () -> new RevolveGradient(snaps));
      long p32 = peak(3, 32, () -> new RevolveGradient(snaps));
      System.out.printf(
          "revolve s=%d peak bytes: N_t=8 %d, 16 %d, 32 %d (|z| = %d)%n", s, p8, p16, p32, Z);
      assertEquals(p8, p16, "s=" + s);
      assertEquals(p8, p32, "s=" + s);
      // L inputs + (s − 1) snapshots + one recorded step whose input is a transient state.
      assertEquals(3 * Z + (s - 1) * Z + 2 * Z, p8, "s=" + s);
    }
  }
}
