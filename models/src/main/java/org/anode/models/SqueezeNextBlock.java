package org.anode.models;

import org.anode.api.Conv2dSpec;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.Sequential;

/**
 * The SqueezeNext block (Gholami et al. 2018, "SqueezeNext", Fig. 2), as in the ANODE reference:
 * 1×1 reduce to {@code r·in} (carrying the stride), 1×1 reduce to half that, 1×3 (padding 0, 1),
 * 3×1 (padding 1, 0), 1×1 expand to {@code out}; every conv with bias and followed by BN + ReLU. As
 * a transition block it adds {@code ReLU(shortcut(x))} (conv1×1 + BN when the stride or the
 * channels change, else x) and applies a final ReLU; as an ODE field it is the five convs alone.
 */
public final class SqueezeNextBlock extends Module {
  private final Sequential convs;
  private final Sequential shortcut;
  private final boolean residual;

  private SqueezeNextBlock(
      ParameterFactory f, int in, int out, int stride, double reduction, boolean residual) {
    int r = Math.max(1, (int) (in * reduction));
    int half = Math.max(1, (int) (in * reduction * 0.5));
    this.convs =
        registerModule(
            "convs",
            new Sequential(
                Layers.convBnRelu(f, in, r, 1, 1, Conv2dSpec.of(stride, 0), true),
                Layers.convBnRelu(f, r, half, 1, 1, Conv2dSpec.defaults(), true),
                Layers.convBnRelu(f, half, r, 1, 3, Conv2dSpec.defaults().withPadding(0, 1), true),
                Layers.convBnRelu(f, r, r, 3, 1, Conv2dSpec.defaults().withPadding(1, 0), true),
                Layers.convBnRelu(f, r, out, 1, 1, Conv2dSpec.defaults(), true)));
    this.residual = residual;
    this.shortcut =
        residual && (stride != 1 || in != out)
            ? registerModule(
                "shortcut", Layers.convBn(f, in, out, 1, 1, Conv2dSpec.of(stride, 0), true))
            : null;
  }

  /** A transition block: reduction 0.25 when {@code in > out}, 1 at stride 2, else 0.5. */
  public static SqueezeNextBlock transition(ParameterFactory f, int in, int out, int stride) {
    double r = in > out ? 0.25 : stride == 2 ? 1.0 : 0.5;
    return new SqueezeNextBlock(f, in, out, stride, r, true);
  }

  /** The ODE field: the five convs with reduction 0.5, no shortcut. */
  public static SqueezeNextBlock field(ParameterFactory f, int channels) {
    return new SqueezeNextBlock(f, channels, channels, 1, 0.5, false);
  }

  @Override
  public Variable forward(Variable x) {
    Variable y = convs.forward(x);
    if (!residual) {
      return y;
    }
    Variable s = shortcut == null ? x : shortcut.forward(x);
    return Ops.relu(Ops.add(y, Ops.relu(s)));
  }
}
