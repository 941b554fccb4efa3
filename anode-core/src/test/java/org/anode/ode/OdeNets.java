package org.anode.ode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Rand;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.BatchNorm2d;
import org.anode.nn.Conv2d;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;

/** Test networks of stacked ODE blocks, built identically for every gradient method. */
final class OdeNets {
  private OdeNets() {}

  /**
   * f = BN(conv3×3(ReLU(BN(conv3×3(z))))): the ODE-ResNet field ({@code OdeResNet.field}) without
   * its final ReLU, so that f can be negative.
   */
  static Module convBnReluField(ParameterFactory f, int c, boolean batchNorm) {
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

  /** L ODE blocks in a row. */
  static final class Stack extends Module {
    final List<OdeBlock> blocks = new ArrayList<>();

    Stack(
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
        OdeBlock b =
            new OdeBlock(
                VectorField.autonomous(convBnReluField(f, channels, batchNorm)),
                solver.get(),
                0,
                1,
                stepping,
                method.get());
        this.blocks.add(registerModule("block" + l, b));
      }
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

  /** Loss, input gradient, parameter gradients and the meter's peak of one training step. */
  record Step(double loss, double[] inputGrad, Map<String, double[]> paramGrads, long peakBytes) {}

  /** One forward + backward of {@code sum(net(x) ⊙ r)}; gradients are read and then cleared. */
  static Step step(Module net, Tensor x, Tensor r) {
    try (TensorScope scope = TensorScope.open()) {
      Variable in = Variable.leaf(x);
      MemoryMeter meter = new MemoryMeter();
      double loss;
      try (Tape tape = Tape.record(meter)) {
        Variable out = net.forward(in);
        // Σ r ⊙ out saves r; with r == null the loss Σ out saves nothing.
        Variable l = Ops.sum(r == null ? out : Ops.mul(out, Variable.constant(r)), false);
        loss = l.value().item();
        tape.backward(l);
      }
      Map<String, double[]> grads = new LinkedHashMap<>();
      net.parameters()
          .forEach(
              (n, p) -> {
                grads.put(n, p.grad().toDoubleArray());
                p.zeroGrad();
              });
      double[] gx = in.grad().toDoubleArray();
      in.zeroGrad();
      return new Step(loss, gx, grads, meter.peakBytes());
    }
  }

  static Tensor input(Backend be, DType dtype, long seed, int... dims) {
    Tensor t = new Rand(be, seed).nonZero(dims);
    return dtype == DType.FLOAT64 ? t : be.cast(t, dtype);
  }

  static Shape shape(int... dims) {
    return Shape.of(dims);
  }
}
