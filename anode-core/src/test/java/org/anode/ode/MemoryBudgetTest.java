package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.api.Test;

/** The budget helper's predictions and choices on three Euler blocks with N_t = 8. */
class MemoryBudgetTest {
  static final long Z = MemoryLawTest.Z;
  final Backend be = Backends.get();
  final Shape input = Shape.of(2, 4, 6, 6);

  ReferenceNetworks.Stack net() {
    return new ReferenceNetworks.Stack(
        be, DType.FLOAT64, 3, 3, 4, false, Euler::new, Stepping.fixed(8), StoreAllGradient::new);
  }

  long measuredPeak(ReferenceNetworks.Stack net) {
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, 2, 4, 6, 6);
      MemoryMeter meter = new MemoryMeter();
      try (Tape tape = Tape.record(meter)) {
        tape.backward(Ops.sum(net.forward(Variable.leaf(x)), false));
      }
      net.zeroGrad();
      return meter.peakBytes();
    }
  }

  @Test
  void predictionsMatchTheMemoryLawsAndTheMeasuredPeaks() {
    try (TensorScope scope = TensorScope.open()) {
      ReferenceNetworks.Stack net = net();
      MemoryBudget.Advice a = MemoryBudget.advise(net, be, input, DType.FLOAT64, 48 * Z);
      assertEquals("store-all", a.method());
      assertEquals(48 * Z, a.predictedBytes());
      assertEquals(1.0, a.recomputationFactor());
      assertEquals(18 * Z, a.considered().get(1).predictedBytes()); // anode
      assertEquals(2.0, a.considered().get(1).recomputationFactor());
      a.apply(net);
      assertEquals(48 * Z, measuredPeak(net));

      MemoryBudget.Advice b = MemoryBudget.advise(net, be, input, DType.FLOAT64, 48 * Z - 1);
      assertEquals("anode", b.method());
      b.apply(net);
      assertEquals(b.predictedBytes(), measuredPeak(net));

      MemoryBudget.Advice c = MemoryBudget.advise(net, be, input, DType.FLOAT64, 17 * Z);
      assertEquals("revolve:7", c.method()); // the largest s that fits: 3 + 6 + 2 = 11 |z|
      assertEquals(11 * Z, c.predictedBytes());
      c.apply(net);
      assertEquals(11 * Z, measuredPeak(net));

      MemoryBudget.Advice d = MemoryBudget.advise(net, be, input, DType.FLOAT64, 6 * Z);
      assertEquals("revolve:2", d.method());
      assertEquals(2.0 + 14.0 / 8, d.recomputationFactor()); // extra(8, 2) = 3·8 − C(5, 3) = 14
      d.apply(net);
      assertEquals(6 * Z, measuredPeak(net));

      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> MemoryBudget.advise(net, be, input, DType.FLOAT64, 5 * Z - 1));
      assertTrue(e.getMessage().contains("revolve:1"), e.getMessage());
      net.close();
    }
  }

  /** Live bytes of one real step at {@code batch}, above what was live before it. */
  long measuredLivePeak(ReferenceNetworks.Stack net, int batch) {
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = ReferenceNetworks.input(be, DType.FLOAT64, 1, batch, 4, 6, 6);
      long before = LiveMemory.currentBytes();
      LiveMemory.resetPeak();
      try (TensorScope step = TensorScope.open();
          Tape tape = Tape.record()) {
        tape.backward(Ops.sum(net.forward(Variable.constant(x)), false));
      }
      long peak = LiveMemory.peakBytes() - before;
      net.zeroGrad();
      return peak;
    }
  }

  @Test
  void livePeakPredictionMatchesTheMeasuredStep() {
    try (TensorScope scope = TensorScope.open()) {
      ReferenceNetworks.Stack net = net();
      for (String method : List.of("store-all", "anode", "revolve:2", "adjoint")) {
        MemoryBudget.blocks(net).forEach(b -> b.setMethod(GradientMethod.named(method)));
        long predicted =
            MemoryBudget.predictLivePeak(net, be, Shape.of(12, 4, 6, 6), DType.FLOAT64);
        long measured = measuredLivePeak(net, 12);
        assertTrue(
            Math.abs(predicted - measured) <= 0.1 * measured,
            method + ": predicted " + predicted + " bytes, measured " + measured);
      }
      net.close();
    }
  }
}
