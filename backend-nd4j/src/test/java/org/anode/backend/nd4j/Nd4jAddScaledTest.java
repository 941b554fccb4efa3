package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * ND4J's fused {@code addScaled} rounds bit for bit as the default's composition ({@code from +
 * c·k}, two roundings) at every element, vector body and tail alike: an adaptive solver picks its
 * steps from these sums, so ANODE's recomputation of a block must reproduce them exactly (a fused
 * multiply-add that rounds once in the vector loop and twice in the tail once made Dopri5's
 * recomputed steps differ from the forward pass's). Small tensors take {@link SmallAddScaled}'s
 * Java loop, larger ones libnd4j's ops: both are checked.
 */
class Nd4jAddScaledTest {
  final Backend be = Backends.get("nd4j");

  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT32", "FLOAT64"})
  void equalsItsCompositionBitForBit(DType dtype) {
    double[] c = {1 / 6.0, 0.1, -2 / 3.0};
    for (Shape s :
        List.of(
            Shape.of(1037), // SmallAddScaled's Java loop
            Shape.of(3, 5, 7, 11),
            Shape.of(2, 16, 9, 9),
            Shape.of(33, 1001), // libnd4j's ops
            Shape.of(4, 16, 23, 23))) {
      try (TensorScope scope = TensorScope.open()) {
        Tensor base = SamePrecisionInputs.random(be, s, dtype, 1);
        List<Tensor> terms =
            List.of(
                SamePrecisionInputs.random(be, s, dtype, 2),
                SamePrecisionInputs.random(be, s, dtype, 3),
                SamePrecisionInputs.random(be, s, dtype, 4));
        Tensor composed = base;
        for (int i = 0; i < c.length; i++) {
          composed = be.add(composed, be.mulScalar(terms.get(i), c[i]));
        }
        assertArrayEquals(
            composed.toDoubleArray(),
            be.addScaled(base, c, terms).toDoubleArray(),
            0.0,
            "addScaled " + s + " " + dtype);
      }
    }
  }
}
