package org.anode.nn;

import java.util.List;
import org.anode.autodiff.Tape;
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

  /**
   * Runs the layers in order; a {@link Conv2d} directly followed by a {@link ReLU} runs as one
   * fused op ({@link Conv2d#forwardRelu}: same numbers, no pre-activation tensor). An intermediate
   * output, which no caller can see, is freed as soon as the next layer has read it: at once if
   * nothing saved it for backward, else by the tape right after the last operation that reads it is
   * swept ({@link Tape#releaseIntermediate}).
   */
  @Override
  public Variable forward(Variable x) {
    Variable y = x;
    for (int i = 0; i < layers.size(); i++) {
      Module m = layers.get(i);
      Variable next;
      if (m instanceof Conv2d conv && i + 1 < layers.size() && layers.get(i + 1) instanceof ReLU) {
        next = conv.forwardRelu(y);
        i++;
      } else {
        next = m.forward(y);
      }
      if (y != x && y.value() != x.value() && y.value() != next.value()) {
        Tape.releaseIntermediate(y.value());
      }
      y = next;
    }
    return y;
  }
}
