package org.anode.autodiff;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.nn.Conv2d;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.junit.jupiter.api.Test;

/** A kept segment: same gradients as recording in place, and every tensor freed either way. */
class SegmentTest {
  final Backend be = Backends.get();

  Sequential net() {
    ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 4);
    return new Sequential(
        new Conv2d(f, 3, 3, 3, Conv2dSpec.of(1, 1), false),
        new ReLU(),
        new Conv2d(f, 3, 3, 3, Conv2dSpec.of(1, 1), false));
  }

  @Test
  void sweepEqualsRecordingInPlaceAndFreesItsTensors() {
    Sequential net = net();
    try (TensorScope outer = TensorScope.open()) {
      Tensor x = new Rand(be, 5).nonZero(2, 3, 5, 5);
      double[] inPlace;
      double[] weightInPlace;
      try (TensorScope s = TensorScope.open();
          Tape tape = Tape.record()) {
        Variable xv = Variable.leaf(x);
        tape.backward(Ops.sum(Ops.tanh(net.forward(xv)), false));
        inPlace = xv.grad().toDoubleArray();
        xv.zeroGrad();
        weightInPlace = net.parameters().values().iterator().next().grad().toDoubleArray();
        net.zeroGrad();
      }
      long openBefore = AbstractTensor.openTensors();
      MemoryMeter meter = new MemoryMeter();
      try (TensorScope s = TensorScope.open();
          Tape tape = Tape.record(meter)) {
        Segment seg = Segment.record(x, true, net::forward);
        long kept = meter.currentBytes();
        assertEquals(2 * (2 * 3 * 5 * 5 * 8), kept, "x and the ReLU output");
        Variable y = Variable.leaf(seg.output());
        Variable loss = Ops.sum(Ops.tanh(y), false);
        tape.backward(loss);
        Tensor gx = seg.backward(y.grad());
        assertFalse(seg.isOpen());
        assertEquals(0, meter.currentBytes());
        assertArrayEquals(inPlace, gx.toDoubleArray(), 0);
        assertArrayEquals(
            weightInPlace, net.parameters().values().iterator().next().grad().toDoubleArray(), 0);
        assertThrows(IllegalStateException.class, () -> seg.backward(y.grad()));
        y.zeroGrad();
        net.zeroGrad();
      }
      assertEquals(openBefore, AbstractTensor.openTensors(), "open tensors after the step");
    }
    net.close();
  }

  @Test
  void tapeClosedWithoutBackwardFreesTheSegment() {
    Sequential net = net();
    try (TensorScope outer = TensorScope.open()) {
      Tensor x = new Rand(be, 6).nonZero(2, 3, 5, 5);
      long openBefore = AbstractTensor.openTensors();
      MemoryMeter meter = new MemoryMeter();
      Segment seg;
      Tensor out;
      try (Tape tape = Tape.record(meter)) {
        seg = Segment.record(x, false, net::forward);
        tape.closeWithTape(seg);
        out = seg.output();
        assertEquals(
            2 * (2 * 3 * 5 * 5 * 8),
            meter.currentBytes(),
            "x (for the weight's gradient) and the ReLU output");
      }
      assertFalse(seg.isOpen());
      assertEquals(0, meter.currentBytes());
      // Only the output, which belongs to the caller's scope, is still open.
      assertEquals(openBefore + 1, AbstractTensor.openTensors());
      assertFalse(out.isClosed());
    }
    net.close();
  }

  @Test
  void givesWayBeforeTheMeterGrows() {
    Sequential net = net();
    try (TensorScope outer = TensorScope.open()) {
      Tensor x = new Rand(be, 7).nonZero(2, 3, 5, 5);
      MemoryMeter meter = new MemoryMeter();
      try (Tape tape = Tape.record(meter)) {
        Segment seg = Segment.record(x, false, net::forward);
        tape.closeWithTape(seg);
        seg.closeBeforeNewPeak();
        long level = meter.currentBytes();
        Variable y = Variable.leaf(seg.output());
        Ops.sum(y, false); // saves nothing: the segment stays
        assertTrue(seg.isOpen());
        Ops.tanh(y); // saves its output: the segment is released first
        assertFalse(seg.isOpen());
        long tanhOut = 2 * 3 * 5 * 5 * 8;
        assertEquals(tanhOut, meter.currentBytes());
        assertEquals(level, meter.peakBytes(), "the peak is the segment's, not segment + tanh");
      }
    }
    net.close();
  }

  @Test
  void staysBelowAPeakAlreadyReached() {
    Sequential net = net();
    try (TensorScope outer = TensorScope.open()) {
      Tensor x = new Rand(be, 8).nonZero(2, 3, 5, 5);
      Tensor big =
          new Rand(be, 9).nonZero(4, 3, 5, 5, 2); // 4,800 B: segment 2,400 + 1,200 per tanh
      MemoryMeter meter = new MemoryMeter();
      meter.retain(big); // an earlier part of the pass reached this peak
      meter.release(big);
      try (Tape tape = Tape.record(meter)) {
        Segment seg = Segment.record(x, false, net::forward);
        tape.closeWithTape(seg);
        seg.closeBeforeNewPeak();
        Variable y = Variable.leaf(seg.output());
        Ops.tanh(y); // segment + tanh output stay below the earlier peak
        assertTrue(seg.isOpen());
        Ops.tanh(Ops.tanh(y)); // two more outputs would pass it: the segment gives way
        assertFalse(seg.isOpen());
        assertEquals(big.bytes(), meter.peakBytes());
      }
    }
    net.close();
  }
}
