package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
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
 * Tensors in the convolutions' layouts (blocked on the oneDNN route, channels-last on libnd4j's:
 * {@link ConvolutionRoute}) through the ops of an ODE step and its backward (conv → ReLU → conv →
 * Euler update; the two convolution gradients, the ReLU mask, the gradient sum), with NCHW operands
 * mixed in: every float32 result equals the same computation in float64, which never leaves NCHW,
 * and the results that should stay in the route's layout do.
 */
class Nd4jChannelsLastTest {
  final Backend be = Backends.get("nd4j");
  final Shape x = Shape.of(16, 64, 32, 32); // 4 MiB in float32: the channels-last threshold
  final Shape w = Shape.of(64, 64, 3, 3);
  final Conv2dSpec same = Conv2dSpec.of(1, 1);

  Tensor random(Shape shape, DType dtype, long seed) {
    return SamePrecisionInputs.random(be, shape, dtype, seed);
  }

  /**
   * The step and its backward in {@code dtype}, named results in order. The ReLU mask is {@code
   * mask} when given: float32 and float64 may round a pre-activation within 1e-4 of 0 to opposite
   * signs, so the float64 run takes the float32 run's mask.
   */
  Map<String, Tensor> step(DType dtype, Tensor mask) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    Tensor z = random(x, dtype, 1);
    Tensor w1 = random(w, dtype, 2);
    Tensor w2 = random(w, dtype, 3);
    Tensor gradNext = random(x, dtype, 4);
    Tensor a = be.conv2d(z, w1, null, same);
    Tensor r = be.relu(a);
    Tensor f = be.conv2d(r, w2, null, same);
    Tensor next = be.add(z, be.mulScalar(f, 0.125));
    out.put("conv(z)", a);
    out.put("relu", r);
    out.put("conv(relu)", f);
    out.put("z + h f", next);
    out.put("z + h f, other order", be.add(be.mulScalar(f, 0.125), z));
    Tensor gf = be.mulScalar(gradNext, 0.125);
    Backend.Conv2dGradients g2 = be.conv2dBackward(r, w2, gf, same, true, true);
    if (mask == null) {
      mask = be.greaterThan(r, be.scalar(0.0, dtype));
    }
    Tensor ga = be.mul(g2.input(), mask);
    Backend.Conv2dGradients g1 = be.conv2dBackward(z, w1, ga, same, true, true);
    out.put("grad relu", g2.input());
    out.put("grad w2", g2.weight());
    out.put("relu mask", mask);
    out.put("grad conv(z)", ga);
    out.put("grad w1", g1.weight());
    out.put("grad z", be.add(gradNext, g1.input()));
    out.put("sum over H, W of conv(z)", be.sum(a, false, 2, 3));
    return out;
  }

  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void odeStepAndItsGradientsMatchFloat64(ConvolutionRoute route) {
    route.run(() -> check(route.layout));
  }

  void check(StorageLayout layout) {
    try (TensorScope scope = TensorScope.open()) {
      Map<String, Tensor> f32 = step(DType.FLOAT32, null);
      for (String name :
          new String[] {
            "relu",
            "conv(relu)",
            "z + h f",
            "z + h f, other order",
            "grad relu",
            "relu mask",
            "grad conv(z)"
          }) {
        assertEquals(layout, ((Nd4jTensor) f32.get(name)).layout(), name);
      }
      // The sum read conv(z) in NCHW: its storage changed once, in place.
      assertEquals(StorageLayout.NCHW, ((Nd4jTensor) f32.get("conv(z)")).layout());
      Map<String, Tensor> f64 = step(DType.FLOAT64, be.cast(f32.get("relu mask"), DType.FLOAT64));
      for (String name : f64.keySet()) {
        double[] expected = f64.get(name).toDoubleArray();
        assertTrue(Arrays.stream(expected).anyMatch(v -> v != 0), name + " is not all zero");
        double e = SamePrecisionInputs.maxRelativeError(expected, f32.get(name).toDoubleArray());
        assertTrue(e < 2e-5, name + ": relative error " + e);
      }
    }
  }
}
