package org.anode.autodiff;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.TensorScope;
import org.anode.nn.Conv2d;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Flatten;
import org.anode.nn.GlobalAvgPool2d;
import org.anode.nn.Linear;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.junit.jupiter.api.Test;

/** The meter's byte counts for a small network, computed by hand from the shapes. */
class MemoryMeterTest {
  final Backend be = Backends.get();

  @Test
  void smallNetworkBytesByHand() {
    ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 1);
    Sequential net =
        new Sequential(
            new Conv2d(f, 3, 4, 3, Conv2dSpec.of(1, 1), false),
            new ReLU(),
            new GlobalAvgPool2d(),
            new Flatten(),
            new Linear(f, 4, 5));
    try (TensorScope scope = TensorScope.open();
        Tape tape = Tape.record()) {
      Variable x = Variable.constant(new Rand(be, 1).nonZero(2, 3, 8, 8));
      Variable loss = CrossEntropyLoss.of(net.forward(x), new int[] {0, 3});
      long conv = 2 * 3 * 8 * 8 * 8; // input x (the weight is a parameter: not counted)
      long relu = 2 * 4 * 8 * 8 * 8; // ReLU output
      long matmul = 2 * 4 * 8 + 4 * 5 * 8; // pooled features and the transposed weight copy
      long logSoftmax = 2 * 5 * 8; // its output, also saved by the mul that follows: once
      long oneHot = 2 * 5 * 8; // the constant label weights saved by that mul
      long expected = conv + relu + matmul + logSoftmax + oneHot;
      assertEquals(expected, tape.meter().currentBytes());
      assertEquals(expected, tape.meter().peakBytes());
      assertEquals(6, tape.meter().tensorCount());
      tape.backward(loss);
      assertEquals(0, tape.meter().currentBytes());
      assertEquals(expected, tape.meter().peakBytes());
    }
    net.close();
  }

  @Test
  void tensorSavedTwiceCountsOnceAndUnsweptNodesAreReleasedOnClose() {
    MemoryMeter meter = new MemoryMeter();
    try (TensorScope scope = TensorScope.open()) {
      Variable a = Variable.leaf(new Rand(be, 2).nonZero(10, 10));
      try (Tape tape = Tape.record(meter)) {
        Ops.mul(a, a); // saves a twice
        assertEquals(800, meter.currentBytes());
        Ops.exp(a); // saves its output (new tensor) and nothing of a
        assertEquals(1600, meter.currentBytes());
        try (Tape inner = Tape.record()) {
          assertEquals(meter, inner.meter());
          Ops.tanh(a);
          assertEquals(2400, meter.currentBytes());
        }
        assertEquals(1600, meter.currentBytes());
        try (Tape.Pause off = Tape.pause()) {
          Ops.exp(a);
          assertEquals(null, Tape.current());
          assertEquals(meter, Tape.currentMeter());
        }
        assertEquals(1600, meter.currentBytes());
      }
      assertEquals(0, meter.currentBytes());
      assertEquals(2400, meter.peakBytes());
    }
  }
}
