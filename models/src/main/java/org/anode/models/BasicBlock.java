package org.anode.models;

import org.anode.api.Conv2dSpec;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.Sequential;

/**
 * The ordinary ResNet basic block (He et al. 2016): {@code ReLU(BN(conv3×3(ReLU(BN(conv3×3(x))))) +
 * shortcut(x))}, with a 1×1 projection + BN shortcut when the stride or the channels change.
 */
public final class BasicBlock extends Module {
  private final Sequential residual;
  private final Sequential shortcut;

  public BasicBlock(ParameterFactory f, int in, int out, int stride) {
    this.residual =
        registerModule(
            "residual",
            new Sequential(
                Layers.convBnRelu(f, in, out, 3, 3, Conv2dSpec.of(stride, 1), false),
                Layers.convBn(f, out, out, 3, 3, Conv2dSpec.of(1, 1), false)));
    this.shortcut =
        stride != 1 || in != out
            ? registerModule(
                "shortcut", Layers.convBn(f, in, out, 1, 1, Conv2dSpec.of(stride, 0), false))
            : null;
  }

  @Override
  public Variable forward(Variable x) {
    Variable r = residual.forward(x);
    return Ops.relu(Ops.add(r, shortcut == null ? x : shortcut.forward(x)));
  }
}
