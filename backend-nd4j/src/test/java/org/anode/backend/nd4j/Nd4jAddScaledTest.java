package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * ND4J's fused {@code addScaled} rounds bit for bit as the default's composition ({@code from +
 * c·k}, two roundings) at every element, vector body and tail alike: an adaptive solver picks its
 * steps from these sums, so ANODE's recomputation of a block must reproduce them exactly (a fused
 * multiply-add that rounds once in the vector loop and twice in the tail once made Dopri5's
 * recomputed steps differ from the forward pass's). Small tensors take {@link SmallAddScaled}'s
 * Java loop; larger float32 ones oneDNN's one-pass sum ({@link OneDnnSum}) where the route calls
 * oneDNN, libnd4j's ops otherwise (and for float64): all are checked, and so is the layout a
 * convolution's outputs keep.
 */
class Nd4jAddScaledTest {
  final Backend be = Backends.get("nd4j");

  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void equalsItsCompositionBitForBit(ConvolutionRoute route) {
    route.run(
        () -> {
          for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (Shape s :
                List.of(
                    Shape.of(1037), // SmallAddScaled's Java loop
                    Shape.of(3, 5, 7, 11),
                    Shape.of(2, 16, 9, 9),
                    Shape.of(33, 1001), // oneDNN's sum or libnd4j's ops
                    Shape.of(4, 16, 23, 23))) {
              try (TensorScope scope = TensorScope.open()) {
                List<Tensor> operands = new ArrayList<>();
                for (int seed = 1; seed <= 4; seed++) {
                  operands.add(SamePrecisionInputs.random(be, s, dtype, seed));
                }
                check(operands, dtype);
              }
            }
            try (TensorScope scope = TensorScope.open()) {
              // A convolution's outputs, kept in the route's layout, like an ODE block's z and f.
              List<Tensor> operands = new ArrayList<>();
              Tensor w = SamePrecisionInputs.random(be, Shape.of(16, 16, 3, 3), dtype, 9);
              for (int seed = 1; seed <= 4; seed++) {
                Tensor x = SamePrecisionInputs.random(be, Shape.of(4, 16, 23, 23), dtype, seed);
                operands.add(be.conv2d(x, w, null, Conv2dSpec.of(1, 1)));
              }
              StorageLayout layout = Nd4jBackend.own(operands.get(0)).layout();
              assertEquals(layout, check(operands, dtype), "the operands' layout stays");
            }
          }
        });
  }

  /**
   * {@code mulScalar} rounds once, as IEEE's product of the value and the scalar in the tensor's
   * type, on every route and size: large float32 tensors take oneDNN's one-source sum where the
   * route calls oneDNN ({@link OneDnnSum#scale}), the rest libnd4j's op; a convolution's output
   * keeps its layout.
   */
  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void mulScalarRoundsOnce(ConvolutionRoute route) {
    route.run(
        () -> {
          for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (Shape s : List.of(Shape.of(1037), Shape.of(33, 1001))) {
              try (TensorScope scope = TensorScope.open()) {
                checkMulScalar(SamePrecisionInputs.random(be, s, dtype, 5), dtype);
              }
            }
            try (TensorScope scope = TensorScope.open()) {
              Tensor x = SamePrecisionInputs.random(be, Shape.of(4, 16, 23, 23), dtype, 6);
              Tensor w = SamePrecisionInputs.random(be, Shape.of(16, 16, 3, 3), dtype, 7);
              Tensor y = be.conv2d(x, w, null, Conv2dSpec.of(1, 1));
              StorageLayout layout = Nd4jBackend.own(y).layout();
              Tensor scaled = be.mulScalar(y, -1 / 6.0);
              assertEquals(layout, Nd4jBackend.own(scaled).layout(), "the layout stays");
              checkMulScalar(y, dtype);
            }
          }
        });
  }

  /**
   * {@code add} rounds once, as IEEE's sum in the tensors' type, on every route and size: large
   * same-shape float32 operands take oneDNN's sum where the route calls oneDNN, the rest (and a
   * broadcast) libnd4j's op; two convolution outputs keep their layout.
   */
  @ParameterizedTest
  @EnumSource(ConvolutionRoute.class)
  void addRoundsOnce(ConvolutionRoute route) {
    route.run(
        () -> {
          for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (Shape s : List.of(Shape.of(1037), Shape.of(33, 1001))) {
              try (TensorScope scope = TensorScope.open()) {
                checkAdd(
                    SamePrecisionInputs.random(be, s, dtype, 5),
                    SamePrecisionInputs.random(be, s, dtype, 6),
                    dtype);
              }
            }
            try (TensorScope scope = TensorScope.open()) {
              Tensor w = SamePrecisionInputs.random(be, Shape.of(16, 16, 3, 3), dtype, 7);
              Tensor[] y = new Tensor[2];
              for (int i = 0; i < 2; i++) {
                Tensor x = SamePrecisionInputs.random(be, Shape.of(4, 16, 23, 23), dtype, 8 + i);
                y[i] = be.conv2d(x, w, null, Conv2dSpec.of(1, 1));
              }
              StorageLayout layout = Nd4jBackend.own(y[0]).layout();
              assertEquals(layout, Nd4jBackend.own(be.add(y[0], y[1])).layout(), "layout stays");
              checkAdd(y[0], y[1], dtype);
            }
            try (TensorScope scope = TensorScope.open()) {
              // A broadcast row, like a bias.
              Tensor row = SamePrecisionInputs.random(be, Shape.of(1, 1001), dtype, 10);
              Tensor m = SamePrecisionInputs.random(be, Shape.of(33, 1001), dtype, 11);
              double[] r = row.toDoubleArray();
              double[] v = m.toDoubleArray();
              double[] expected = new double[v.length];
              for (int i = 0; i < v.length; i++) {
                expected[i] = sum(v[i], r[i % 1001], dtype);
              }
              assertArrayEquals(expected, be.add(m, row).toDoubleArray(), 0.0, "broadcast add");
            }
          }
        });
  }

  private void checkAdd(Tensor a, Tensor b, DType dtype) {
    double[] x = a.toDoubleArray();
    double[] y = b.toDoubleArray();
    double[] expected = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      expected[i] = sum(x[i], y[i], dtype);
    }
    assertArrayEquals(
        expected, be.add(a, b).toDoubleArray(), 0.0, "add " + a.shape() + " " + dtype);
  }

  private static double sum(double a, double b, DType dtype) {
    return dtype == DType.FLOAT32 ? (double) ((float) a + (float) b) : a + b;
  }

  private void checkMulScalar(Tensor x, DType dtype) {
    double c = -1 / 6.0;
    double[] values = x.toDoubleArray();
    double[] expected = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      expected[i] =
          dtype == DType.FLOAT32 ? (double) ((float) values[i] * (float) c) : values[i] * c;
    }
    assertArrayEquals(
        expected, be.mulScalar(x, c).toDoubleArray(), 0.0, "mulScalar " + x.shape() + " " + dtype);
  }

  /**
   * base + c·terms against its composition, with a zero coefficient (a term left out); returns the
   * layout the result was stored in (reading its values turns it into NCHW).
   */
  private StorageLayout check(List<Tensor> operands, DType dtype) {
    double[] c = {1 / 6.0, 0.0, 0.1, -2 / 3.0};
    Tensor base = operands.get(0);
    List<Tensor> terms =
        List.of(operands.get(1), operands.get(2), operands.get(3), operands.get(1));
    Tensor composed = base;
    for (int i = 0; i < c.length; i++) {
      composed = be.add(composed, be.mulScalar(terms.get(i), c[i]));
    }
    if (dtype == DType.FLOAT32
        && OneDnn.enabled()
        && base.shape().numel() > SmallAddScaled.MAX_VALUES) {
      List<INDArray> storages = terms.stream().map(t -> Nd4jBackend.own(t).storage()).toList();
      INDArray b = Nd4jBackend.own(base).storage();
      assertTrue(OneDnnSum.serves(b, storages, b), "oneDNN's sum serves " + base.shape());
    }
    Tensor fused = be.addScaled(base, c, terms);
    StorageLayout layout = Nd4jBackend.own(fused).layout();
    assertArrayEquals(
        composed.toDoubleArray(),
        fused.toDoubleArray(),
        0.0,
        "addScaled " + base.shape() + " " + dtype);
    return layout;
  }
}
