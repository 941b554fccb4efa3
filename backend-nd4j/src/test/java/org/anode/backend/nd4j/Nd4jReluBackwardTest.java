package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * ND4J's ReLU backward (oneDNN's one-pass kernel for float32, libnd4j's two passes otherwise)
 * equals the SPI's composition {@code g · (y > 0)} bit for bit, in NCHW and in the route's layout,
 * on an odd length (a kernel's tail) and with NaN and infinite gradients.
 */
class Nd4jReluBackwardTest {
  final Backend be = Backends.get("nd4j");

  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void equalsItsCompositionBitForBit(ConvolutionRoute route) {
    route.run(
        () -> {
          for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            try (TensorScope scope = TensorScope.open()) {
              Tensor y = be.relu(SamePrecisionInputs.random(be, Shape.of(1037), dtype, 1));
              double[] yv = be.copy(y).toDoubleArray();
              double[] g = SamePrecisionInputs.random(be, Shape.of(1037), dtype, 2).toDoubleArray();
              for (int i = 0, zeros = 0, positives = 0; i < yv.length; i++) {
                // NaN and ∞ where the mask is 0 (NaN·0 and ∞·0 are NaN) and where it is 1.
                if (yv[i] == 0 && zeros < 2) {
                  g[i] = zeros++ == 0 ? Double.NaN : Double.POSITIVE_INFINITY;
                } else if (yv[i] > 0 && positives < 2) {
                  g[i] = positives++ == 0 ? Double.NaN : Double.NEGATIVE_INFINITY;
                }
              }
              Tensor tg = be.cast(be.fromArray(g, Shape.of(1037)), dtype);
              check(y, tg);
              // Blocked or channels-last: a convolution's output and a gradient of its shape.
              Tensor a =
                  be.relu(
                      be.conv2d(
                          SamePrecisionInputs.random(be, Shape.of(16, 64, 32, 32), dtype, 3),
                          SamePrecisionInputs.random(be, Shape.of(64, 64, 3, 3), dtype, 4),
                          null,
                          Conv2dSpec.of(1, 1)));
              check(a, SamePrecisionInputs.random(be, a.shape(), dtype, 5));
            }
          }
        });
  }

  void check(Tensor y, Tensor g) {
    Tensor composed = be.mul(g, be.greaterThan(y, be.scalar(0.0, y.dtype())));
    assertArrayEquals(
        composed.toDoubleArray(),
        be.reluBackward(y, g).toDoubleArray(),
        0.0,
        "reluBackward " + y.shape() + " " + y.dtype());
  }
}
