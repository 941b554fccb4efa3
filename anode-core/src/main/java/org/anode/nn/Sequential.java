package org.anode.nn;

import java.util.List;
import org.anode.autodiff.Variable;

/** Modules applied in order; their entries are named by position ({@code "0.weight"}, …). */
public final class Sequential extends Module {
  private final List<Module> layers;

  public Sequential(List<Module> layers) {
    this.layers = List.copyOf(layers);
    for (int i = 0; i < this.layers.size(); i++) {
      registerModule(Integer.toString(i), this.layers.get(i));
    }
  }

  public Sequential(Module... layers) {
    this(List.of(layers));
  }

  public List<Module> layers() {
    return layers;
  }

  @Override
  public Variable forward(Variable x) {
    Variable y = x;
    for (Module m : layers) {
      y = m.forward(y);
    }
    return y;
  }
}
