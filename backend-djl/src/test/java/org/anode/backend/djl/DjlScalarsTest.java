package org.anode.backend.djl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Scalar ops reuse one cached 0-d array per dtype and value, give what DJL's own {@code
 * mul(Number)} gives to the bit, and the cache stays within its capacity.
 */
class DjlScalarsTest {
  private static DjlBackend backend() {
    return (DjlBackend) Backends.get(DjlProvider.NAME);
  }

  @Test
  void aValueIsMadeOncePerDtype() {
    DjlScalars scalars = backend().scalars();
    NDArray a = scalars.of(0.1, DType.FLOAT32);
    assertSame(a, scalars.of(0.1, DType.FLOAT32));
    assertNotSame(a, scalars.of(0.1, DType.FLOAT64));
    assertEquals(DataType.FLOAT32, a.getDataType());
    assertEquals(0, a.getShape().dimension(), "a 0-d array");
    assertEquals(DataType.FLOAT64, scalars.of(0.1, DType.FLOAT64).getDataType());
  }

  @Test
  void scalarOpsMatchDjlsNumberPath() {
    DjlBackend be = backend();
    float[] data = {1.5f, -2.25f, 3.1f, 0f, -0f, 7e-8f};
    for (double s : new double[] {0.1, -3.7, 1 / 3.0}) {
      try (Tensor x = be.fromArray(data, Shape.of(2, 3));
          Tensor y = be.mulScalar(x, s);
          Tensor z = be.addScalar(x, s);
          NDArray mul = DjlBackend.arr(x).mul((float) s);
          NDArray add = DjlBackend.arr(x).add((float) s)) {
        assertArrayEquals(mul.toFloatArray(), y.toFloatArray(), 0f);
        assertArrayEquals(add.toFloatArray(), z.toFloatArray(), 0f);
      }
    }
  }

  @Test
  void theCacheKeepsAtMostItsCapacity() {
    DjlScalars scalars = new DjlScalars(backend().manager());
    try {
      NDArray first = scalars.of(-1, DType.FLOAT64);
      for (int i = 0; i < DjlScalars.CAPACITY + 10; i++) {
        scalars.of(i, DType.FLOAT64);
      }
      assertEquals(DjlScalars.CAPACITY, scalars.size());
      assertNotSame(first, scalars.of(-1, DType.FLOAT64), "the eldest was evicted and made anew");
    } finally {
      scalars.close();
    }
    assertEquals(0, scalars.size());
  }
}
