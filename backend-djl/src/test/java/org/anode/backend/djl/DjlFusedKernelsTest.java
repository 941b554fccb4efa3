package org.anode.backend.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.junit.jupiter.api.Test;

/** libtorch's batch-norm kernel failing leaves no array of the fused kernel allocated. */
class DjlFusedKernelsTest {
  @Test
  void aFailedBatchNormFreesWhatItAllocated() {
    DjlBackend be = (DjlBackend) Backends.get(DjlProvider.NAME);
    DjlFusedKernels fused = new DjlFusedKernels(be);
    try (Tensor x = be.fromArray(new float[2 * 3 * 4 * 4], Shape.of(2, 3, 4, 4));
        // Five values for three channels: the SPI's checks would refuse it; libtorch does here.
        Tensor gamma = be.fromArray(new float[5], Shape.of(5));
        Tensor beta = be.fromArray(new float[5], Shape.of(5))) {
      int before = be.manager().getManagedArrays().size();
      assertThrows(RuntimeException.class, () -> fused.batchNorm(x, gamma, beta, 1e-5));
      assertEquals(before, be.manager().getManagedArrays().size(), "arrays left behind");
      // And the working path still allocates exactly its three results.
      try (Tensor g3 = be.fromArray(new float[] {1, 1, 1}, Shape.of(3));
          Tensor b3 = be.fromArray(new float[3], Shape.of(3))) {
        int ready = 0;
        for (int call = 0; call < 2; call++) {
          // The first call caches the 0-d factor (m-1)/m in DjlScalars: count from the second.
          ready = call == 1 ? be.manager().getManagedArrays().size() : 0;
          var r = fused.batchNorm(x, g3, b3, 1e-5);
          try (Tensor y = r.output();
              Tensor mean = r.mean();
              Tensor variance = r.variance()) {
            assertEquals(DType.FLOAT32, y.dtype());
          }
        }
        assertEquals(ready, be.manager().getManagedArrays().size(), "results freed on close");
      }
    }
  }
}
