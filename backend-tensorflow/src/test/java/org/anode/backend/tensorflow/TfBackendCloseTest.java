package org.anode.backend.tensorflow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.anode.api.BackendOptions;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.junit.jupiter.api.Test;

/** Closing the backend releases its compiled kernels (each a graph and a session). */
class TfBackendCloseTest {
  @Test
  void closeReleasesTheKernelCache() {
    TfBackend be = new TfBackend(new BackendOptions(1));
    try (Tensor a = be.full(Shape.of(2, 3), 1.5, DType.FLOAT64);
        Tensor b = be.add(a, a)) {
      assertEquals(3.0, b.toDoubleArray()[0]);
    }
    assertTrue(be.compiledKernels() >= 1, "add compiled a kernel");
    be.close();
    assertEquals(0, be.compiledKernels());
  }
}
