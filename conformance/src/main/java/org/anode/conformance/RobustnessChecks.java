package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.CrossEntropyLoss;

/**
 * Checks of {@link BackendConformanceSuite} for the two ways a backend can return wrong numbers
 * without an error: extreme logits (a log-softmax that underflows to −∞, a cross-entropy that turns
 * −∞ × 0 into NaN) and results that alias memory their inputs own (a "copy" that reads garbage once
 * its source is closed and collected).
 */
final class RobustnessChecks {
  private RobustnessChecks() {}

  /**
   * Logit rows far apart, within the range of {@code dtype}: a class 115 below the best (float32's
   * exp underflows there), ±1e4, ±1e30 and a row of equal very negative values.
   */
  static double[][] extremeLogitRows() {
    return new double[][] {
      {0, -110, 5},
      {1e4, -1e4, 0},
      {-1e4, 0, 1e4},
      {1e30, -1e30, 0},
      {-1e30, -1e30, -1e30},
      {3, 3, 3}
    };
  }

  /**
   * log-softmax, softmax (its exponential) and the cross-entropy's value and gradient on {@link
   * #extremeLogitRows()} against plain-Java float64, elementwise to {@code tol} relative (absolute
   * below magnitude 1); every label is tried, so the loss picks both the best and the worst class.
   */
  static void extremeLogits(Backend be, DType dtype, double tol) {
    double[][] rows = extremeLogitRows();
    int k = rows[0].length;
    double[] x = new double[rows.length * k];
    for (int r = 0; r < rows.length; r++) {
      System.arraycopy(rows[r], 0, x, r * k, k);
    }
    double[] expected = Reference.logSoftmaxRows(x, rows.length, k);
    Tensor logits = cast(be, be.fromArray(x, Shape.of(rows.length, k)), dtype);
    Tensor ls = be.logSoftmax(logits, 1);
    elementwise("logSoftmax " + dtype, expected, ls.toDoubleArray(), tol);
    double[] softmax = new double[expected.length];
    for (int i = 0; i < softmax.length; i++) {
      softmax[i] = Math.exp(expected[i]);
    }
    elementwise("softmax = exp(logSoftmax) " + dtype, softmax, be.exp(ls).toDoubleArray(), tol);
    for (int label = 0; label < k; label++) {
      int[] labels = new int[rows.length];
      java.util.Arrays.fill(labels, label);
      double loss = 0;
      double[] grad = new double[x.length];
      for (int r = 0; r < rows.length; r++) {
        loss -= expected[r * k + label] / rows.length;
        for (int c = 0; c < k; c++) {
          grad[r * k + c] = (softmax[r * k + c] - (c == label ? 1 : 0)) / rows.length;
        }
      }
      Variable z = Variable.leaf(be.copy(logits));
      try (Tape tape = Tape.record()) {
        Variable l = CrossEntropyLoss.of(z, labels);
        elementwise(
            "cross-entropy, label " + label + ", " + dtype,
            new double[] {loss},
            new double[] {l.value().item()},
            tol);
        tape.backward(l);
      }
      elementwise(
          "cross-entropy gradient, label " + label + ", " + dtype,
          grad,
          z.grad().toDoubleArray(),
          tol);
    }
  }

  private static Tensor cast(Backend be, Tensor t, DType dtype) {
    return t.dtype() == dtype ? t : be.cast(t, dtype);
  }

  private static void elementwise(String what, double[] expected, double[] actual, double tol) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      double e = expected[i];
      double a = actual[i];
      assertTrue(
          Double.isFinite(a) && Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)),
          what + ": element " + i + " is " + a + ", expected " + e);
    }
  }

  /**
   * Every op whose result could share memory with an input: the result is read, the inputs are
   * closed, the garbage collector runs and fresh tensors of the same sizes are written over any
   * memory that was freed; the result must still hold its values.
   */
  static void resultsSurviveTheirInputs(Backend be, DType dtype) {
    Map<String, Function<Tensor[], Tensor>> ops = new LinkedHashMap<>();
    ops.put("copy", in -> be.copy(in[0]));
    ops.put("cast to the same dtype", in -> be.cast(in[0], dtype));
    ops.put(
        "cast to the other dtype and back",
        in -> {
          DType other = dtype == DType.FLOAT32 ? DType.FLOAT64 : DType.FLOAT32;
          return TensorScope.keepResult(() -> be.cast(be.cast(in[0], other), dtype));
        });
    ops.put("reshape", in -> be.reshape(in[0], Shape.of(4, 24)));
    ops.put("permute", in -> be.permute(in[0], 0, 2, 3, 1));
    ops.put("slice", in -> be.slice(in[0], 1, 1, 3));
    ops.put("concat of one part", in -> be.concat(List.of(in[0]), 1));
    ops.put("concat", in -> be.concat(List.of(in[0], in[1]), 0));
    ops.put("broadcastTo", in -> be.broadcastTo(in[4], Shape.of(2, 3, 4, 4)));
    ops.put("add zero", in -> be.add(in[0], be.scalar(0.0, dtype)));
    ops.put("mulScalar 1", in -> be.mulScalar(in[0], 1.0));
    ops.put("addScalar 0", in -> be.addScalar(in[0], 0.0));
    ops.put("powScalar 1", in -> be.powScalar(in[0], 1.0));
    ops.put("relu", in -> be.relu(in[0]));
    ops.put("where", in -> be.where(in[2], in[0], in[1]));
    ops.put("sum over nothing reduced", in -> be.sum(in[0], true, 0));
    ops.put("mean", in -> be.mean(in[0], true, 2, 3));
    ops.put("max", in -> be.max(in[0], true, 1));
    ops.put("max of all", in -> be.max(in[0], false));
    ops.put("logSoftmax", in -> be.logSoftmax(in[0], 1));
    ops.put("conv2d 1×1 identity", in -> be.conv2d(in[0], in[3], null, Conv2dSpec.of(1, 0)));
    ops.put("avgPool2d 1×1", in -> be.avgPool2d(in[0], Pool2dSpec.of(1, 1, 0)));
    ops.put("globalAvgPool", in -> be.globalAvgPool(in[0]));
    List<String> failures = new ArrayList<>();
    for (var op : ops.entrySet()) {
      Tensor result;
      double[] before;
      try (TensorScope scope = TensorScope.open()) {
        Tensor[] in = inputs(be, dtype);
        result = scope.keep(op.getValue().apply(in));
        before = result.toDoubleArray();
        for (Tensor t : in) {
          t.close();
        }
      }
      churn(be, dtype);
      double[] after = result.toDoubleArray();
      result.close();
      try {
        assertArrayEquals(before, after, op.getKey() + " " + dtype);
      } catch (AssertionError e) {
        failures.add(op.getKey());
      }
    }
    assertTrue(
        failures.isEmpty(),
        "results that changed after their inputs were closed and collected ("
            + dtype
            + "): "
            + failures);
  }

  /**
   * [2, 3, 4, 4] values, a second one, a mask, an identity 1×1 convolution weight and [2, 1, 4, 4]
   * values to broadcast.
   */
  private static Tensor[] inputs(Backend be, DType dtype) {
    Shape s = Shape.of(2, 3, 4, 4);
    double[] a = new double[96];
    double[] b = new double[96];
    double[] mask = new double[96];
    for (int i = 0; i < 96; i++) {
      a[i] = Math.sin(i + 1) * 3;
      b[i] = Math.cos(i + 1) * 2;
      mask[i] = i % 3 == 0 ? 1 : 0;
    }
    double[] w = new double[9];
    for (int c = 0; c < 3; c++) {
      w[c * 3 + c] = 1;
    }
    return new Tensor[] {
      fromArray(be, a, s, dtype),
      fromArray(be, b, s, dtype),
      fromArray(be, mask, s, dtype),
      fromArray(be, w, Shape.of(3, 3, 1, 1), dtype),
      fromArray(be, java.util.Arrays.copyOf(a, 32), Shape.of(2, 1, 4, 4), dtype)
    };
  }

  private static Tensor fromArray(Backend be, double[] v, Shape s, DType dtype) {
    if (dtype == DType.FLOAT64) {
      return be.fromArray(v, s);
    }
    float[] f = new float[v.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) v[i];
    }
    return be.fromArray(f, s);
  }

  /** Collects garbage (direct buffers are freed by their cleaners) and reuses freed memory. */
  private static void churn(Backend be, DType dtype) {
    for (int round = 0; round < 3; round++) {
      System.gc();
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      try (TensorScope scope = TensorScope.open()) {
        for (int i = 0; i < 16; i++) {
          double[] junk = new double[96];
          java.util.Arrays.fill(junk, 1e6 + i);
          fromArray(be, junk, Shape.of(2, 3, 4, 4), dtype);
          be.full(Shape.of(96), -7e5, dtype);
        }
      }
    }
  }
}
