package org.anode.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Ownership rules of scopes, on a Java-heap tensor that records its release. */
class TensorScopeTest {

  static final class HeapTensor extends AbstractTensor {
    int releases;

    HeapTensor() {
      super(Shape.of(4), DType.FLOAT64);
    }

    @Override
    public Backend backend() {
      return new FakeBackends.Available().create(new BackendOptions(0));
    }

    @Override
    protected float[] readFloats() {
      return new float[4];
    }

    @Override
    protected double[] readDoubles() {
      return new double[4];
    }

    @Override
    protected void release() {
      releases++;
    }
  }

  @Test
  void scopeClosesWhatItOwnsOnce() {
    long before = AbstractTensor.openTensors();
    HeapTensor a;
    HeapTensor b;
    try (TensorScope s = TensorScope.open()) {
      a = new HeapTensor();
      b = new HeapTensor();
      b.close();
      assertEquals(1, s.size());
      assertEquals(before + 1, AbstractTensor.openTensors());
    }
    assertEquals(1, a.releases);
    assertEquals(1, b.releases);
    assertEquals(before, AbstractTensor.openTensors());
    assertThrows(IllegalStateException.class, a::toDoubleArray);
  }

  @Test
  void keepMovesToParentAndDetachMovesToCaller() {
    HeapTensor kept;
    HeapTensor detached;
    HeapTensor free = new HeapTensor(); // no scope open: the caller owns it
    try (TensorScope outer = TensorScope.open()) {
      try (TensorScope inner = TensorScope.open()) {
        kept = inner.keep(new HeapTensor());
        detached = TensorScope.detach(new HeapTensor());
        assertEquals(0, inner.size());
      }
      assertFalse(kept.isClosed());
      assertEquals(1, outer.size());
    }
    assertTrue(kept.isClosed());
    assertFalse(detached.isClosed());
    assertFalse(free.isClosed());
    detached.close();
    free.close();
  }

  @Test
  void closingOuterScopeClosesForgottenInnerScopes() {
    HeapTensor inInner;
    TensorScope outer = TensorScope.open();
    TensorScope inner = TensorScope.open();
    inInner = new HeapTensor();
    outer.close(); // inner never closed, as on an exception path
    assertTrue(inInner.isClosed());
    inner.close(); // harmless
    HeapTensor after = new HeapTensor();
    assertFalse(after.isClosed()); // no stale scope adopted it
    after.close();
  }
}
