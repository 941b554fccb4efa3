package org.anode.train;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.nn.Parameter;

/**
 * Stochastic gradient descent with momentum, Nesterov's variant and L2 weight decay, with PyTorch's
 * update rule: {@code g = ∇ + λ·θ}, {@code b = μ·b + g} (b = g at the first step), then {@code θ −=
 * lr·(g + μ·b)} with Nesterov or {@code θ −= lr·b} without. The ANODE reference trains with lr 0.1,
 * momentum 0.9, weight decay 5e-4.
 */
public final class Sgd implements Optimizer {
  private final double momentum;
  private final boolean nesterov;
  private final double weightDecay;
  private final Map<String, Tensor> buffers = new HashMap<>();

  public Sgd(double momentum, boolean nesterov, double weightDecay) {
    if (nesterov && momentum <= 0) {
      throw new IllegalArgumentException("Sgd: Nesterov momentum needs momentum > 0");
    }
    this.momentum = momentum;
    this.nesterov = nesterov;
    this.weightDecay = weightDecay;
  }

  @Override
  public void step(Map<String, Parameter> parameters, double lr) {
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      Parameter p = e.getValue();
      if (p.grad() == null) {
        continue;
      }
      try (TensorScope scope = TensorScope.open()) {
        Backend be = p.backend();
        Tensor g = p.grad();
        if (weightDecay != 0) {
          g = scaledSum(be, g, weightDecay, p.value());
        }
        Tensor update = g;
        if (momentum != 0) {
          Tensor old = buffers.get(e.getKey());
          Tensor buf = old == null ? be.copy(g) : scaledSum(be, g, momentum, old);
          TensorScope.detach(buf);
          if (old != null) {
            old.close();
          }
          buffers.put(e.getKey(), buf);
          update = nesterov ? scaledSum(be, g, momentum, buf) : buf;
        }
        p.update(scaledSum(be, p.value(), -lr, update));
      }
    }
  }

  /**
   * {@code a + c·b} as one fused pass ({@link Backend#addScaled}): an update of many small
   * parameters is dominated by the count of kernel calls, not by arithmetic.
   */
  private static Tensor scaledSum(Backend be, Tensor a, double c, Tensor b) {
    return be.addScaled(a, new double[] {c}, List.of(b));
  }

  @Override
  public Map<String, Tensor> state() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    buffers.forEach((k, v) -> out.put("momentum." + k, v));
    return out;
  }

  @Override
  public void loadState(Map<String, Tensor> state, Map<String, Long> counters) {
    close();
    state.forEach(
        (k, v) -> {
          if (k.startsWith("momentum.")) {
            buffers.put(k.substring("momentum.".length()), TensorScope.detach(v.backend().copy(v)));
          }
        });
  }

  @Override
  public void close() {
    buffers.values().forEach(Tensor::close);
    buffers.clear();
  }
}
