package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Rand;
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
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.api.Test;

/**
 * A small ODE-ResNet — conv stem, ODE block, strided transition, ODE block, pooling, linear head,
 * cross-entropy — differentiated by the same machinery: every method's gradients equal store-all's,
 * batch-norm statistics agree, and the meter reports the block inputs as checkpoints.
 */
class OdeResNetGradientTest {
  final Backend be = Backends.get();

  static final class MiniOdeResNet extends Module {
    final Sequential net;
    final OdeBlock first;
    final OdeBlock second;

    MiniOdeResNet(Backend be, Supplier<GradientMethod> method) {
      ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 77);
      first =
          new OdeBlock(
              VectorField.autonomous(ReferenceNetworks.resnetField(f, 4, true)),
              new RungeKutta2(),
              0,
              1,
              Stepping.fixed(3),
              method.get());
      second =
          new OdeBlock(
              VectorField.autonomous(ReferenceNetworks.resnetField(f, 6, true)),
              new RungeKutta2(),
              0,
              1,
              Stepping.fixed(3),
              method.get());
      net =
          registerModule(
              "net",
              new Sequential(
                  new Conv2d(f, 3, 4, 3, Conv2dSpec.of(1, 1), false),
                  new BatchNorm2d(f, 4),
                  new ReLU(),
                  first,
                  new Conv2d(f, 4, 6, 3, Conv2dSpec.of(2, 1), false),
                  new BatchNorm2d(f, 6),
                  new ReLU(),
                  second,
                  new GlobalAvgPool2d(),
                  new Flatten(),
                  new Linear(f, 6, 5)));
    }

    @Override
    public Variable forward(Variable x) {
      return net.forward(x);
    }
  }

  record Result(double loss, double[] gx, Map<String, double[]> grads, long checkpointBytes) {}

  Result run(MiniOdeResNet m, Tensor x, int[] labels) {
    try (TensorScope scope = TensorScope.open()) {
      Variable in = Variable.leaf(x);
      MemoryMeter meter = new MemoryMeter();
      double loss;
      long checkpoints;
      try (Tape tape = Tape.record(meter)) {
        Variable l = CrossEntropyLoss.of(m.forward(in), labels);
        loss = l.value().item();
        checkpoints = meter.checkpointBytes();
        tape.backward(l);
      }
      assertEquals(0, meter.checkpointBytes());
      Map<String, double[]> grads = new java.util.LinkedHashMap<>();
      m.parameters().forEach((n, p) -> grads.put(n, p.grad().toDoubleArray()));
      m.zeroGrad();
      return new Result(loss, in.grad().toDoubleArray(), grads, checkpoints);
    }
  }

  @Test
  void everyMethodMatchesStoreAllThroughOrdinaryLayers() {
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = new Rand(be, 5).nonZero(4, 3, 8, 8);
      int[] labels = {0, 3, 4, 1};
      MiniOdeResNet refNet = new MiniOdeResNet(be, StoreAllGradient::new);
      Result ref = run(refNet, x, labels);
      assertEquals(0, ref.checkpointBytes());
      long inputs = (4 * 4 * 8 * 8 + 4 * 6 * 4 * 4) * 8L; // the two blocks' inputs
      for (Supplier<GradientMethod> m :
          java.util.List.<Supplier<GradientMethod>>of(
              CheckpointedGradient::new, () -> new RevolveGradient(2))) {
        MiniOdeResNet net = new MiniOdeResNet(be, m);
        Result r = run(net, x, labels);
        String name = m.get().name();
        assertEquals(ref.loss(), r.loss(), 1e-13 * Math.abs(ref.loss()), name);
        assertTrue(GradientCheck.relativeError(ref.gx(), r.gx()) <= 1e-12, name + " input");
        for (String k : ref.grads().keySet()) {
          double e = GradientCheck.relativeError(ref.grads().get(k), r.grads().get(k));
          assertTrue(e <= 1e-12, name + " " + k + ": " + e);
        }
        assertEquals(inputs, r.checkpointBytes(), name + " checkpoint bytes");
        for (String k : refNet.buffers().keySet()) {
          assertArrayEquals(
              refNet.buffers().get(k).toDoubleArray(), net.buffers().get(k).toDoubleArray(), k);
        }
      }
    }
  }
}
