package org.anode.models;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Conv2dSpec;
import org.anode.autodiff.Variable;
import org.anode.nn.AvgPool2d;
import org.anode.nn.Flatten;
import org.anode.nn.Linear;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.Sequential;
import org.anode.ode.VectorField;

/**
 * ODE-ResNet as in the ANODE reference (Gholami et al. 2019, §4): a 3×3 conv stem with BN and ReLU;
 * four stages of 64/128/256/512 channels (times {@code width}) with strides 1/2/2/2, each an
 * ordinary {@link BasicBlock} followed by {@code depths[i]} ODE blocks whose field is {@code f(z) =
 * ReLU(BN(conv3×3(ReLU(BN(conv3×3(z))))))} with bias-free convs; average pooling 4; a linear head.
 * With width 1 and depths {1, 1, 1, 1} this is the paper's ODE-ResNet18 for 32×32 inputs.
 */
public final class OdeResNet extends Module {
  static final int[] CHANNELS = {64, 128, 256, 512};
  static final int[] STRIDES = {1, 2, 2, 2};

  private final Sequential net;

  public OdeResNet(ParameterFactory f, int classes, double width, int[] depths, OdeSettings ode) {
    if (depths.length != 4) {
      throw new IllegalArgumentException("OdeResNet: depths needs 4 stages, got " + depths.length);
    }
    List<Module> layers = new ArrayList<>();
    int in = Layers.scaled(64, width);
    layers.add(Layers.convBnRelu(f, 3, in, 3, 3, Conv2dSpec.of(1, 1), false));
    for (int s = 0; s < 4; s++) {
      int out = Layers.scaled(CHANNELS[s], width);
      layers.add(new BasicBlock(f, in, out, STRIDES[s]));
      for (int d = 0; d < depths[s]; d++) {
        layers.add(ode.block(VectorField.autonomous(field(f, out))));
      }
      in = out;
    }
    layers.add(new AvgPool2d(4));
    layers.add(new Flatten());
    layers.add(new Linear(f, in, classes));
    this.net = registerModule("net", new Sequential(layers));
  }

  /** The reference field: conv3×3 → BN → ReLU → conv3×3 → BN → ReLU, bias-free convs. */
  public static Sequential field(ParameterFactory f, int c) {
    return new Sequential(
        Layers.convBnRelu(f, c, c, 3, 3, Conv2dSpec.of(1, 1), false),
        Layers.convBnRelu(f, c, c, 3, 3, Conv2dSpec.of(1, 1), false));
  }

  @Override
  public Variable forward(Variable x) {
    return net.forward(x);
  }
}
