package org.anode.testing;

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
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Ops;
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
import org.anode.ode.AsynchronousLeapfrog;
import org.anode.ode.GradientMethod;
import org.anode.ode.OdeBlock;
import org.anode.ode.RungeKutta2;
import org.anode.ode.Solver;
import org.anode.ode.Stepping;
import org.anode.ode.VectorField;

/**
 * The networks, inputs and training step that anode's own tests, the conformance suite and the
 * memory-law tests share (as {@code torch.testing} ships with PyTorch): built identically on any
 * backend from a seed, with one step's loss and gradients read back as Java arrays so that gradient
 * methods and backends can be compared number by number.
 */
public final class ReferenceNetworks {
  private ReferenceNetworks() {}

  /**
   * f = BN(conv3×3(ReLU(BN(conv3×3(z))))) with bias-free convolutions, the batch norms left out
   * when {@code batchNorm} is false: the ODE-ResNet field without its final ReLU, so that f can be
   * negative.
   */
  public static Module resnetField(ParameterFactory f, int c, boolean batchNorm) {
    List<Module> layers = new ArrayList<>();
    layers.add(new Conv2d(f, c, c, 3, Conv2dSpec.of(1, 1), false));
    if (batchNorm) {
      layers.add(new BatchNorm2d(f, c));
    }
    layers.add(new ReLU());
    layers.add(new Conv2d(f, c, c, 3, Conv2dSpec.of(1, 1), false));
    if (batchNorm) {
      layers.add(new BatchNorm2d(f, c));
    }
    return new Sequential(layers);
  }

  /** An ODE block of {@link #resnetField} over [0, 1] in {@code stepping}. */
  public static OdeBlock block(
      ParameterFactory f,
      int c,
      boolean batchNorm,
      Solver solver,
      Stepping stepping,
      GradientMethod method) {
    return new OdeBlock(
        VectorField.autonomous(resnetField(f, c, batchNorm)), solver, 0, 1, stepping, method);
  }

  private static OdeBlock block(
      ParameterFactory f, int c, Supplier<GradientMethod> method, Solver solver) {
    return block(f, c, true, solver, Stepping.fixed(3), method.get());
  }

  /** L ODE blocks in a row, each with its own parameters, solver and gradient method. */
  public static final class Stack extends Module {
    private final List<OdeBlock> blocks = new ArrayList<>();

    public Stack(
        Backend be,
        DType dtype,
        long seed,
        int blocks,
        int channels,
        boolean batchNorm,
        Supplier<Solver> solver,
        Stepping stepping,
        Supplier<GradientMethod> method) {
      ParameterFactory f = new ParameterFactory(be, dtype, seed);
      for (int l = 0; l < blocks; l++) {
        OdeBlock b = block(f, channels, batchNorm, solver.get(), stepping, method.get());
        this.blocks.add(registerModule("block" + l, b));
      }
    }

    /** The blocks, first to last. */
    public List<OdeBlock> blocks() {
      return List.copyOf(blocks);
    }

    @Override
    public Variable forward(Variable x) {
      Variable z = x;
      for (OdeBlock b : blocks) {
        z = b.forward(z);
      }
      return z;
    }
  }

  /** Three RK2 ODE blocks of 4 channels (N_t = 3), then global pooling and a linear head. */
  public static Module odeStack(Backend be, DType dtype, Supplier<GradientMethod> method) {
    return odeStack(be, dtype, method, RungeKutta2::new);
  }

  /**
   * {@link #odeStack} with the asynchronous leapfrog solver (MALI), whose reversible gradient
   * method rebuilds every step from the block's output.
   */
  public static Module odeStackAlf(Backend be, DType dtype, Supplier<GradientMethod> method) {
    return odeStack(be, dtype, method, AsynchronousLeapfrog::new);
  }

  private static Module odeStack(
      Backend be, DType dtype, Supplier<GradientMethod> method, Supplier<Solver> solver) {
    ParameterFactory f = new ParameterFactory(be, dtype, 2024);
    return new Sequential(
        block(f, 4, method, solver.get()),
        block(f, 4, method, solver.get()),
        block(f, 4, method, solver.get()),
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
        block(f, 4, method, new RungeKutta2()),
        new Conv2d(f, 4, 6, 3, Conv2dSpec.of(2, 1), false),
        new BatchNorm2d(f, 6),
        new ReLU(),
        block(f, 6, method, new RungeKutta2()),
        new GlobalAvgPool2d(),
        new Flatten(),
        new Linear(f, 6, 5));
  }

  /**
   * A seeded input of shape {@code dims}, the same numbers on every backend: uniform in [−1, 1)
   * with magnitude at least 0.1, away from ReLU's kink, where finite differences are unreliable.
   */
  public static Tensor input(Backend be, DType dtype, long seed, int... dims) {
    SplittableRandom rng = new SplittableRandom(seed);
    Shape s = Shape.of(dims);
    double[] d = new double[Math.toIntExact(s.numel())];
    for (int i = 0; i < d.length; i++) {
      double v = rng.nextDouble(0.1, 1.0);
      d[i] = rng.nextBoolean() ? v : -v;
    }
    Tensor t = be.fromArray(d, s);
    if (dtype == DType.FLOAT64) {
      return t;
    }
    try (t) {
      return be.cast(t, dtype);
    }
  }

  /**
   * Loss, input gradient, parameter gradients and the peak of saved bytes ({@link MemoryMeter}) of
   * one training step.
   */
  public record Step(
      double loss, double[] inputGrad, Map<String, double[]> paramGrads, long peakBytes) {}

  /**
   * One forward and backward of {@code Σ r ⊙ net(x)} ({@code Σ net(x)} when r is null, a loss that
   * saves nothing itself); the gradients are read and then cleared.
   */
  public static Step step(Module net, Tensor x, Tensor r) {
    return step(
        net, x, out -> Ops.sum(r == null ? out : Ops.mul(out, Variable.constant(r)), false));
  }

  /** One forward and backward of cross-entropy against {@code labels}; clears the gradients. */
  public static Step classificationStep(Module net, Tensor x, int[] labels) {
    return step(net, x, out -> CrossEntropyLoss.of(out, labels));
  }

  private static Step step(
      Module net, Tensor x, java.util.function.UnaryOperator<Variable> lossOf) {
    try (TensorScope scope = TensorScope.open()) {
      Variable in = Variable.leaf(x);
      MemoryMeter meter = new MemoryMeter();
      double loss;
      try (Tape tape = Tape.record(meter)) {
        Variable l = lossOf.apply(net.forward(in));
        loss = l.value().item();
        tape.backward(l);
      }
      Map<String, double[]> grads = new LinkedHashMap<>();
      net.parameters().forEach((n, p) -> grads.put(n, p.grad().toDoubleArray()));
      net.zeroGrad();
      double[] gx = in.grad().toDoubleArray();
      in.zeroGrad();
      return new Step(loss, gx, grads, meter.peakBytes());
    }
  }

  /** Names of the entries of two steps whose relative error exceeds {@code tol}, with errors. */
  public static List<String> differences(Step a, Step b, double tol) {
    List<String> out = new ArrayList<>();
    double lossErr = lossError(a, b);
    if (lossErr > tol) {
      out.add("loss " + lossErr);
    }
    double e = GradientCheck.relativeError(a.inputGrad(), b.inputGrad());
    if (e > tol) {
      out.add("input " + e);
    }
    for (String k : a.paramGrads().keySet()) {
      double pe = GradientCheck.relativeError(a.paramGrads().get(k), b.paramGrads().get(k));
      if (pe > tol) {
        out.add(k + " " + pe);
      }
    }
    return out;
  }

  /** The largest relative error over loss, input and parameter gradients. */
  public static double maxError(Step a, Step b) {
    double m = Math.max(lossError(a, b), GradientCheck.relativeError(a.inputGrad(), b.inputGrad()));
    for (String k : a.paramGrads().keySet()) {
      m = Math.max(m, GradientCheck.relativeError(a.paramGrads().get(k), b.paramGrads().get(k)));
    }
    return m;
  }

  private static double lossError(Step a, Step b) {
    return Math.abs(a.loss() - b.loss()) / Math.max(Math.abs(a.loss()), 1e-300);
  }
}
