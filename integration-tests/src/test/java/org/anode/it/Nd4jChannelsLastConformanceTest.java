package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Method;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.conformance.BackendConformanceSuite;
import org.junit.jupiter.api.Test;

/**
 * ND4J against the conformance suite with every float32 convolution kept channels-last (threshold 0
 * bytes instead of 4 MiB), so the suite's small float32 cases take the layout that only large
 * convolutions take by default. Each test class runs in a JVM of its own, so the property is set
 * before the backend is first loaded.
 */
class Nd4jChannelsLastConformanceTest extends BackendConformanceSuite {
  static final String PROPERTY = "anode.nd4j.channelsLastMinBytes";

  static {
    System.setProperty(PROPERTY, "0");
  }

  Nd4jChannelsLastConformanceTest() {
    super("nd4j");
  }

  /**
   * The suite above ran the channels-last route: a float32 convolution of 2×4×6×6 (1,152 bytes, far
   * below the default threshold) leaves its result stored NHWC, and a float64 one (which the route
   * does not serve) NCHW. Read through the tensor's package-private {@code layout()}.
   */
  @Test
  void smallFloat32ConvolutionsTookTheChannelsLastRoute() throws ReflectiveOperationException {
    Backend be = Backends.get("nd4j");
    try (TensorScope scope = TensorScope.open()) {
      for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
        Tensor x = be.full(Shape.of(2, 4, 6, 6), 0.5, dtype);
        Tensor w = be.full(Shape.of(4, 4, 3, 3), 0.1, dtype);
        Tensor y = be.conv2d(x, w, null, Conv2dSpec.of(1, 1));
        Method layout = y.getClass().getDeclaredMethod("layout");
        layout.setAccessible(true);
        assertEquals(
            dtype == DType.FLOAT32 ? "NHWC" : "NCHW", layout.invoke(y).toString(), dtype.name());
        // Whatever the storage, the values are the convolution's: interior 4·9·0.5·0.1 = 1.8.
        assertEquals(1.8, y.toDoubleArray()[7], 1e-6);
      }
    }
  }
}
