package org.anode.it;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.models.OdeResNet;
import org.anode.models.OdeSettings;
import org.anode.models.OdeSqueezeNext;
import org.anode.nn.Conv2d;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.ode.StoreAllGradient;
import org.anode.testing.ReferenceNetworks;

/**
 * The distinct convolutions a shipped model runs, read from a recorded forward pass: every
 * operation on the tape that takes a {@link Conv2d}'s weight is that convolution, and its first
 * input the activation it saw. Nothing is listed by hand, so a change to a model changes the cases.
 */
final class ModelConvolutions {
  private ModelConvolutions() {}

  /** One convolution: its input (batch {@code n}), weight, geometry and whether it has a bias. */
  record Case(String model, Shape input, Shape weight, Conv2dSpec spec, boolean bias) {
    @Override
    public String toString() {
      return model + " " + input + " * " + weight + " " + spec + (bias ? " +bias" : "");
    }
  }

  /**
   * The distinct convolutions of ODE-ResNet18 and ODE-SqueezeNext at {@code width} on 32×32 RGB
   * images, with inputs of batch {@code n}, in the order a forward pass meets them.
   */
  static List<Case> shipped(Backend be, double width, int n) {
    int[] ones = {1, 1, 1, 1};
    OdeSettings storeAll =
        new OdeSettings(
            OdeSettings.defaults().solver(),
            OdeSettings.defaults().stepping(),
            OdeSettings.defaults().endTime(),
            StoreAllGradient::new);
    List<Case> out = new ArrayList<>();
    try (TensorScope scope = TensorScope.open()) {
      ParameterFactory f = new ParameterFactory(be, DType.FLOAT32, 1);
      out.addAll(of("resnet", new OdeResNet(f, 10, width, ones, storeAll), be, n));
      out.addAll(of("sqnxt", new OdeSqueezeNext(f, 10, width, ones, storeAll), be, n));
    }
    return out;
  }

  private static Set<Case> of(String name, Module model, Backend be, int n) {
    Map<Variable, Conv2d> byWeight = new IdentityHashMap<>();
    collect(model, byWeight);
    Set<Case> cases = new LinkedHashSet<>();
    Set<Conv2d> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    Tensor x = ReferenceNetworks.input(be, DType.FLOAT32, 1, 1, 3, 32, 32);
    try (Tape tape = Tape.record()) {
      model.forward(Variable.leaf(x));
      for (Tape.Operation op : tape.operations()) {
        for (Variable in : op.inputs()) {
          Conv2d conv = byWeight.get(in);
          if (conv != null) {
            seen.add(conv);
            Shape input = op.inputs().get(0).shape();
            cases.add(
                new Case(
                    name,
                    input.with(0, n),
                    conv.weight().shape(),
                    conv.spec(),
                    conv.bias() != null));
          }
        }
      }
    }
    if (seen.size() != byWeight.size()) {
      throw new IllegalStateException(
          name
              + ": the forward pass recorded "
              + seen.size()
              + " of its "
              + byWeight.size()
              + " convolutions");
    }
    model.close();
    return cases;
  }

  private static void collect(Module m, Map<Variable, Conv2d> byWeight) {
    if (m instanceof Conv2d conv) {
      byWeight.put(conv.weight(), conv);
    }
    m.children().values().forEach(c -> collect(c, byWeight));
  }

  /** {@code s.numel()} values of magnitude 0.1 to 1, either sign: a case's float32 operand. */
  static float[] random(java.util.SplittableRandom rng, Shape s) {
    float[] d = new float[Math.toIntExact(s.numel())];
    for (int i = 0; i < d.length; i++) {
      float v = (float) rng.nextDouble(0.1, 1.0);
      d[i] = rng.nextBoolean() ? v : -v;
    }
    return d;
  }

  /** The same values in float64, for the reference. */
  static double[] widen(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }
}
