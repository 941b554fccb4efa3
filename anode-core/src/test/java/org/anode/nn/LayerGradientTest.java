package org.anode.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Rand;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every layer's input and parameter gradients against finite differences in float64. */
class LayerGradientTest {
  final Backend be = Backends.get();
  final ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 11);
  Rand r;
  TensorScope scope;

  @BeforeEach
  void open() {
    scope = TensorScope.open();
    r = new Rand(be, 5);
  }

  @AfterEach
  void close() {
    scope.close();
  }

  static void checkModule(String what, Module m, Variable x) {
    List<Variable> leaves = new ArrayList<>();
    leaves.add(x);
    leaves.addAll(m.parameters().values());
    GradientCheck.Result res = GradientCheck.check(() -> m.forward(x), leaves, 1e-6, 3);
    assertTrue(res.max() <= 1e-6, what + ": " + Arrays.toString(res.errors()));
  }

  @Test
  void conv2dLayers() {
    Variable x = r.leaf(DType.FLOAT64, 2, 4, 7, 7);
    checkModule("conv 3x3", new Conv2d(f, 4, 6, 3, Conv2dSpec.of(1, 1), true), x);
    checkModule("conv stride 2", new Conv2d(f, 4, 6, 3, Conv2dSpec.of(2, 1), false), x);
    checkModule(
        "conv 1x3",
        new Conv2d(
            f,
            4,
            5,
            1,
            3,
            Conv2dSpec.defaults().withPadding(0, 1),
            true,
            Initializer.kaimingNormal()),
        x);
    checkModule(
        "conv 3x1",
        new Conv2d(
            f,
            4,
            5,
            3,
            1,
            Conv2dSpec.defaults().withPadding(1, 0),
            true,
            Initializer.kaimingNormal()),
        x);
    checkModule(
        "conv groups 2", new Conv2d(f, 4, 6, 3, Conv2dSpec.of(1, 1).withGroups(2), true), x);
  }

  @Test
  void batchNormTrainingAndEval() {
    Variable x = r.leaf(DType.FLOAT64, 4, 3, 5, 5);
    BatchNorm2d bn = new BatchNorm2d(f, 3);
    // Non-trivial affine parameters so their gradients are not special.
    bn.weight().update(r.uniform(0.5, 1.5, 3));
    bn.bias().update(r.uniform(-0.5, 0.5, 3));
    checkModule("batchnorm train", bn, x);
    bn.eval();
    checkModule("batchnorm eval", bn, x);
  }

  @Test
  void batchNormStatistics() {
    BatchNorm2d bn = new BatchNorm2d(f, 2, 1e-5, 0.1);
    var xt = r.uniform(-1, 3, 3, 2, 2, 2);
    double[] x = xt.toDoubleArray();
    Variable y = bn.forward(Variable.constant(xt));
    double[] mean = new double[2];
    double[] var = new double[2];
    for (int c = 0; c < 2; c++) {
      List<Double> vals = new ArrayList<>();
      for (int n = 0; n < 3; n++) {
        for (int i = 0; i < 4; i++) {
          vals.add(x[(n * 2 + c) * 4 + i]);
        }
      }
      double m = vals.stream().mapToDouble(d -> d).average().orElseThrow();
      double v = vals.stream().mapToDouble(d -> (d - m) * (d - m)).sum() / vals.size();
      mean[c] = m;
      var[c] = v;
    }
    assertArrayEquals(
        new double[] {0.1 * mean[0], 0.1 * mean[1]}, bn.runningMean().toDoubleArray(), 1e-12);
    assertArrayEquals(
        new double[] {0.9 + 0.1 * var[0] * 12 / 11, 0.9 + 0.1 * var[1] * 12 / 11},
        bn.runningVar().toDoubleArray(),
        1e-12);
    double[] out = y.value().toDoubleArray();
    double expected = (x[0] - mean[0]) / Math.sqrt(var[0] + 1e-5);
    assertEquals(expected, out[0], 1e-12);
  }

  @Test
  void linearAndSequentialWithCrossEntropy() {
    Variable x = r.leaf(DType.FLOAT64, 3, 2, 6, 6);
    Sequential net =
        new Sequential(
            new Conv2d(f, 2, 4, 3, Conv2dSpec.of(2, 1), false),
            new BatchNorm2d(f, 4),
            new ReLU(),
            new AvgPool2d(3),
            new Flatten(),
            new Linear(f, 4, 5));
    assertEquals(
        List.of("0.weight", "1.weight", "1.bias", "4.weight", "4.bias", "5.weight", "5.bias")
            .stream()
            .filter(n -> !n.startsWith("4"))
            .toList(),
        List.copyOf(net.parameters().keySet()));
    assertEquals(2 * 4 * 9 + 4 + 4 + 4 * 5 + 5, net.parameterCount());
    int[] labels = {1, 4, 0};
    List<Variable> leaves = new ArrayList<>();
    leaves.add(x);
    leaves.addAll(net.parameters().values());
    GradientCheck.Result res =
        GradientCheck.check(
            () ->
                Ops.reshape(CrossEntropyLoss.of(net.forward(x), labels), org.anode.api.Shape.of(1)),
            leaves,
            1e-6,
            9);
    assertTrue(res.max() <= 1e-6, Arrays.toString(res.errors()));
  }

  @Test
  void crossEntropyValueAndLabelErrors() {
    Variable logits =
        Variable.constant(
            be.fromArray(new double[] {1, 2, 3, 0, 0, 0}, org.anode.api.Shape.of(2, 3)));
    double l0 = -(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)));
    double l1 = Math.log(3);
    assertEquals(
        (l0 + l1) / 2, CrossEntropyLoss.of(logits, new int[] {2, 1}).value().item(), 1e-12);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> CrossEntropyLoss.of(logits, new int[] {2, 3}));
    assertTrue(e.getMessage().contains("label 3 at index 1"), e.getMessage());
  }

  /**
   * Label smoothing: the value is the cross-entropy against the smoothed target q (hand-computed in
   * float64), the gradient matches central differences, and the logits' gradient is (softmax − q)/N
   * exactly; ε outside [0, 1) is refused.
   */
  @Test
  void labelSmoothedCrossEntropy() {
    double eps = 0.1;
    double[] v = {1, 2, 3, 0, 0.5, -1};
    int[] labels = {2, 0};
    Variable logits = Variable.leaf(be.fromArray(v, org.anode.api.Shape.of(2, 3)));
    double expected = 0;
    double[] grad = new double[6];
    for (int n = 0; n < 2; n++) {
      double z = 0;
      for (int k = 0; k < 3; k++) {
        z += Math.exp(v[n * 3 + k]);
      }
      for (int k = 0; k < 3; k++) {
        double q = (k == labels[n] ? 1 - eps : 0) + eps / 3;
        double p = Math.exp(v[n * 3 + k]) / z;
        expected -= q * Math.log(p) / 2;
        grad[n * 3 + k] = (p - q) / 2;
      }
    }
    Variable loss = CrossEntropyLoss.of(logits, labels, eps);
    assertEquals(expected, loss.value().item(), 1e-14);
    assertEquals(
        CrossEntropyLoss.of(logits, labels).value().item(),
        CrossEntropyLoss.of(logits, labels, 0.0).value().item(),
        0.0);
    try (Tape tape = Tape.record()) {
      Variable l = CrossEntropyLoss.of(logits, labels, eps);
      tape.backward(l);
    }
    double[] g = logits.grad().toDoubleArray();
    for (int i = 0; i < 6; i++) {
      assertEquals(grad[i], g[i], 1e-15, "dL/dlogit " + i);
    }
    Variable x = r.leaf(DType.FLOAT64, 3, 5);
    GradientCheck.Result res =
        GradientCheck.check(
            () ->
                Ops.reshape(
                    CrossEntropyLoss.of(x, new int[] {4, 0, 2}, 0.2), org.anode.api.Shape.of(1)),
            List.of(x),
            1e-6,
            9);
    assertTrue(res.max() <= 1e-8, Arrays.toString(res.errors()));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> CrossEntropyLoss.of(x, labels, 1.0));
    assertTrue(
        e.getMessage().contains("label smoothing must be in [0, 1), got 1.0"), e.getMessage());
  }

  @Test
  void stateDictRoundTripAndGradAccumulation() {
    Sequential a =
        new Sequential(new Conv2d(f, 2, 3, 3, Conv2dSpec.of(1, 1), true), new BatchNorm2d(f, 3));
    Sequential b =
        new Sequential(new Conv2d(f, 2, 3, 3, Conv2dSpec.of(1, 1), true), new BatchNorm2d(f, 3));
    Variable x = Variable.constant(r.nonZero(2, 2, 4, 4));
    a.forward(x); // moves a's running statistics
    b.loadStateDict(a.stateDict());
    a.stateDict()
        .forEach(
            (n, t) ->
                assertArrayEquals(t.toDoubleArray(), b.stateDict().get(n).toDoubleArray(), n));
    // Two sweeps add into the same gradient buffers.
    double[] once;
    try (Tape tape = Tape.record()) {
      tape.backward(Ops.sum(a.forward(x), false));
    }
    once = a.parameters().get("0.weight").grad().toDoubleArray();
    try (Tape tape = Tape.record()) {
      tape.backward(Ops.sum(a.forward(x), false));
    }
    double[] twice = a.parameters().get("0.weight").grad().toDoubleArray();
    for (int i = 0; i < once.length; i++) {
      assertEquals(2 * once[i], twice[i], 1e-9 * Math.max(1, Math.abs(once[i])));
    }
    a.zeroGrad();
    assertEquals(null, a.parameters().get("0.weight").grad());
    a.close();
    b.close();
  }
}
