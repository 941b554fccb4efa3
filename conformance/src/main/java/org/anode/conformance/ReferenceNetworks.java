package org.anode.conformance;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.BatchNorm2d;
import org.anode.nn.Conv2d;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Flatten;
import org.anode.nn.GlobalAvgPool2d;
import org.anode.nn.Linear;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.anode.ode.GradientMethod;
import org.anode.ode.OdeBlock;
import org.anode.ode.RungeKutta2;
import org.anode.ode.Stepping;
import org.anode.ode.VectorField;

/**
 * Whole networks built identically on any backend from a seed, and one training step's loss and
 * gradients read back as Java arrays: what the cross-backend equivalence tests compare.
 */
public final class ReferenceNetworks {
  private ReferenceNetworks() {}

  /**
   * f = BN(conv3×3(ReLU(BN(conv3×3(z))))), bias-free convs: the ODE-ResNet field without its final
   * ReLU, so that f can be negative.
   */
  public static Module resnetField(ParameterFactory f, int c) {
    return new Sequential(
        new Conv2d(f, c, c, 3, Conv2dSpec.of(1, 1), false),
        new BatchNorm2d(f, c),
        new ReLU(),
        new Conv2d(f, c, c, 3, Conv2dSpec.of(1, 1), false),
        new BatchNorm2d(f, c));
  }

  static OdeBlock block(ParameterFactory f, int c, Supplier<GradientMethod> method) {
    return block(f, c, method, new RungeKutta2());
  }

  static OdeBlock block(
      ParameterFactory f, int c, Supplier<GradientMethod> method, org.anode.ode.Solver solver) {
    return new OdeBlock(
        VectorField.autonomous(resnetField(f, c)), solver, 0, 1, Stepping.fixed(3), method.get());
  }

  /**
   * {@link #odeStack} with the asynchronous leapfrog solver (MALI), whose reversible gradient
   * method rebuilds every step from the block's output.
   */
  public static Module odeStackAlf(Backend be, DType dtype, Supplier<GradientMethod> method) {
    ParameterFactory f = new ParameterFactory(be, dtype, 2024);
    return new Sequential(
        block(f, 4, method, new org.anode.ode.AsynchronousLeapfrog()),
        block(f, 4, method, new org.anode.ode.AsynchronousLeapfrog()),
        block(f, 4, method, new org.anode.ode.AsynchronousLeapfrog()),
        new GlobalAvgPool2d(),
        new Flatten(),
        new Linear(f, 4, 5));
  }

  /** Three ODE blocks of 4 channels in a row, then global pooling and a linear head. */
  public static Module odeStack(Backend be, DType dtype, Supplier<GradientMethod> method) {
    ParameterFactory f = new ParameterFactory(be, dtype, 2024);
    return new Sequential(
        block(f, 4, method),
        block(f, 4, method),
        block(f, 4, method),
        new GlobalAvgPool2d(),
        new Flatten(),
        new Linear(f, 4, 5));
  }

  /** An ODE-ResNet in small: conv stem, ODE block, strided transition, ODE block, head. */
  public static Module odeResNet(Backend be, DType dtype, Supplier<GradientMethod> method) {
    ParameterFactory f = new ParameterFactory(be, dtype, 2025);
    return new Sequential(
        new Conv2d(f, 4, 4, 3, Conv2dSpec.of(1, 1), false),
        new BatchNorm2d(f, 4),
        new ReLU(),
        block(f, 4, method),
        new Conv2d(f, 4, 6, 3, Conv2dSpec.of(2, 1), false),
        new BatchNorm2d(f, 6),
        new ReLU(),
        block(f, 6, method),
        new GlobalAvgPool2d(),
        new Flatten(),
        new Linear(f, 6, 5));
  }

  /** Loss, input gradient and parameter gradients of one step, as Java arrays. */
  public record Step(double loss, double[] inputGrad, Map<String, double[]> paramGrads) {}

  /** Input {@code [2, 4, 8, 8]} from {@code seed}, the same numbers on every backend. */
  public static Tensor input(Backend be, DType dtype, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    double[] d = new double[2 * 4 * 8 * 8];
    for (int i = 0; i < d.length; i++) {
      d[i] = rng.nextDouble(-1, 1);
    }
    Tensor t = be.fromArray(d, Shape.of(2, 4, 8, 8));
    return dtype == DType.FLOAT64 ? t : be.cast(t, dtype);
  }

  /** One forward and backward of cross-entropy against {@code labels}; frees the gradients. */
  public static Step step(Module net, Tensor x, int[] labels) {
    try (TensorScope scope = TensorScope.open()) {
      Variable in = Variable.leaf(x);
      double loss;
      try (Tape tape = Tape.record()) {
        Variable l = CrossEntropyLoss.of(net.forward(in), labels);
        loss = l.value().item();
        tape.backward(l);
      }
      Map<String, double[]> grads = new LinkedHashMap<>();
      net.parameters().forEach((n, p) -> grads.put(n, p.grad().toDoubleArray()));
      net.zeroGrad();
      double[] gx = in.grad().toDoubleArray();
      in.zeroGrad();
      return new Step(loss, gx, grads);
    }
  }

  /** Names of the entries of two steps whose relative error exceeds {@code tol}, with errors. */
  public static List<String> differences(Step a, Step b, double tol) {
    List<String> out = new ArrayList<>();
    double lossErr = Math.abs(a.loss() - b.loss()) / Math.max(Math.abs(a.loss()), 1e-300);
    if (lossErr > tol) {
      out.add("loss " + lossErr);
    }
    double e = org.anode.autodiff.GradientCheck.relativeError(a.inputGrad(), b.inputGrad());
    if (e > tol) {
      out.add("input " + e);
    }
    for (String k : a.paramGrads().keySet()) {
      double pe =
          org.anode.autodiff.GradientCheck.relativeError(
              a.paramGrads().get(k), b.paramGrads().get(k));
      if (pe > tol) {
        out.add(k + " " + pe);
      }
    }
    return out;
  }

  /** The largest relative error over loss, input and parameter gradients. */
  public static double maxError(Step a, Step b) {
    double m = Math.abs(a.loss() - b.loss()) / Math.max(Math.abs(a.loss()), 1e-300);
    m = Math.max(m, org.anode.autodiff.GradientCheck.relativeError(a.inputGrad(), b.inputGrad()));
    for (String k : a.paramGrads().keySet()) {
      m =
          Math.max(
              m,
              org.anode.autodiff.GradientCheck.relativeError(
                  a.paramGrads().get(k), b.paramGrads().get(k)));
    }
    return m;
  }
}
