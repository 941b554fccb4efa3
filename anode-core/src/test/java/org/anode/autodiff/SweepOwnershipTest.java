package org.anode.autodiff;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.junit.jupiter.api.Test;

/**
 * Who frees what during a sweep: a backward function that gives up its incoming gradient or a saved
 * tensor early ({@link Tape#lastRead}), a leaf that receives the caller's seed (referenced, not
 * copied, and still its own after the seed is closed), and a recomputation that frees its segment's
 * output at once ({@link Segment#releaseOutput}). Values are checked, not just counts.
 */
class SweepOwnershipTest {
  final Backend be = Backends.get();

  private Tensor values(double... v) {
    return be.fromArray(v, Shape.of(v.length));
  }

  @Test
  void lastReadFreesTheIncomingGradientAndASavedTensorBeforeTheFunctionReturns() {
    try (TensorScope outer = TensorScope.open();
        Tape tape = Tape.record()) {
      Variable x = Variable.leaf(values(1, 2, 3));
      Variable doubled = Ops.mulScalar(x, 2); // its gradient is the sweep's own tensor
      Tensor saved = be.copy(doubled.value());
      boolean[] seen = new boolean[4];
      Variable y =
          Ops.function(
              be.copy(doubled.value()),
              new Variable[] {doubled},
              new Tensor[] {saved},
              (g, needs) -> {
                Tensor out = be.mul(g, saved);
                seen[0] = g.isClosed();
                Tape.lastRead(g);
                seen[1] = g.isClosed();
                Tape.lastRead(saved);
                seen[2] = saved.isClosed();
                Tape.lastRead(saved); // a second time changes nothing
                seen[3] = tape.meter().holds(saved);
                return new Tensor[] {out};
              });
      Tape.releaseIntermediate(saved); // the tape frees it once no operation needs it
      assertFalse(saved.isClosed());
      tape.backward(Ops.sum(Ops.mulScalar(y, 3), false));
      assertFalse(seen[0]);
      assertTrue(seen[1], "the incoming gradient, held by nobody else, is freed at its last read");
      assertTrue(seen[2], "the saved tensor, adopted by the tape, is freed at its last read");
      assertFalse(seen[3], "the meter no longer counts it");
      // d/dx Σ 3·(2x ⊙ s) with s = 2x: 3 · 2 · s = 12x
      assertArrayEquals(new double[] {12, 24, 36}, x.grad().toDoubleArray(), 0);
    }
  }

  @Test
  void aLeafThatReceivesTheSeedKeepsItsGradientAfterTheSeedIsClosed() {
    try (TensorScope outer = TensorScope.open()) {
      Tensor z = values(1, -2, 3);
      Tensor seed = values(0.5, 0.25, -1);
      // z + 2·relu(z): the leaf receives the seed itself (through the base of addScaled) and the
      // ReLU's gradient, and once only the seed (with the ReLU term cut off by a zero weight).
      for (double w : new double[] {2, 0}) {
        Segment s =
            Segment.record(
                z, true, v -> Ops.addScaled(v, new double[] {w}, new Variable[] {Ops.relu(v)}));
        Tensor g = s.backward(seed);
        double[] expected = {0.5 * (1 + w), 0.25, -1 * (1 + w)};
        assertArrayEquals(expected, g.toDoubleArray(), 0);
        assertTrue(g != seed, "the input gradient is not the caller's seed");
        Tensor copyOfSeed = be.copy(seed);
        seed.close();
        assertArrayEquals(expected, g.toDoubleArray(), 0, "after the seed is closed");
        seed = copyOfSeed;
      }
    }
  }

  @Test
  void aRecomputedSegmentFreesItsOutputUnlessAnOperationSavedIt() {
    try (TensorScope outer = TensorScope.open()) {
      Tensor z = values(1, -2, 3);
      Segment plain = Segment.record(z, true, v -> Ops.mulScalar(v, 3));
      Tensor out = plain.output();
      plain.releaseOutput();
      assertTrue(out.isClosed(), "nobody reads 3z: freed at once");
      assertArrayEquals(new double[] {3, 3, 3}, plain.backward(values(1, 1, 1)).toDoubleArray(), 0);

      Segment relu = Segment.record(z, true, Ops::relu);
      Tensor y = relu.output();
      relu.releaseOutput();
      assertFalse(y.isClosed(), "ReLU's backward reads its output");
      assertArrayEquals(new double[] {1, 0, 1}, relu.backward(values(1, 1, 1)).toDoubleArray(), 0);
      assertTrue(y.isClosed(), "freed with the segment");
    }
  }

  @Test
  void addScaledRecordsOneOperationWithTheGradientOfItsComposition() {
    Variable base = Variable.leaf(values(1, 2));
    Variable k1 = Variable.leaf(values(3, 4));
    Variable k2 = Variable.leaf(values(5, 6));
    try (TensorScope s = TensorScope.open();
        Tape tape = Tape.record()) {
      Variable out = Ops.addScaled(base, new double[] {0.5, 0}, new Variable[] {k1, k2});
      assertEquals(1, tape.size());
      assertArrayEquals(new double[] {2.5, 4}, out.value().toDoubleArray(), 0);
      tape.backward(Ops.sum(Ops.mulScalar(out, 2), false));
    }
    assertArrayEquals(new double[] {2, 2}, base.grad().toDoubleArray(), 0);
    assertArrayEquals(new double[] {1, 1}, k1.grad().toDoubleArray(), 0);
    assertEquals(null, k2.grad(), "a zero weight sends no gradient");
  }
}
