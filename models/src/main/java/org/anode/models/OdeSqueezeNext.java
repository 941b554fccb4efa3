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
 * ODE-SqueezeNext (1.0-SqNxt-23 layout) as in the ANODE reference: a 3×3 conv stem (bias) with BN
 * and ReLU to 64 channels; four stages of 32/64/128/256 channels (times {@code width}) with strides
 * 1/2/2/2, each a {@link SqueezeNextBlock#transition} followed by {@code depths[i]} ODE blocks
 * whose field is {@link SqueezeNextBlock#field}; a 1×1 conv 256→128 with BN and ReLU; average
 * pooling 4; a linear head.
 */
public final class OdeSqueezeNext extends Module {
  static final int[] CHANNELS = {32, 64, 128, 256};
  static final int[] STRIDES = {1, 2, 2, 2};

  private final Sequential net;

  public OdeSqueezeNext(
      ParameterFactory f, int classes, double width, int[] depths, OdeSettings ode) {
    if (depths.length != 4) {
      throw new IllegalArgumentException(
          "OdeSqueezeNext: depths needs 4 stages, got " + depths.length);
    }
    List<Module> layers = new ArrayList<>();
    int in = Layers.scaled(64, width);
    layers.add(Layers.convBnRelu(f, 3, in, 3, 3, Conv2dSpec.of(1, 1), true));
    for (int s = 0; s < 4; s++) {
      int out = Layers.scaled(CHANNELS[s], width);
      layers.add(SqueezeNextBlock.transition(f, in, out, STRIDES[s]));
      for (int d = 0; d < depths[s]; d++) {
        layers.add(ode.block(VectorField.autonomous(SqueezeNextBlock.field(f, out))));
      }
      in = out;
    }
    int head = Layers.scaled(128, width);
    layers.add(Layers.convBnRelu(f, in, head, 1, 1, Conv2dSpec.defaults(), true));
    layers.add(new AvgPool2d(4));
    layers.add(new Flatten());
    layers.add(new Linear(f, head, classes));
    this.net = registerModule("net", new Sequential(layers));
  }

  @Override
  public Variable forward(Variable x) {
    return net.forward(x);
  }
}
