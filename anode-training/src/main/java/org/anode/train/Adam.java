package org.anode.train;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.nn.Parameter;

/**
 * Adam (Kingma and Ba 2015, Algorithm 1) with L2 weight decay added to the gradient: {@code m =
 * β1·m + (1−β1)·g}, {@code v = β2·v + (1−β2)·g²}, {@code θ −= lr·m̂/(√v̂ + ε)} with bias-corrected
 * {@code m̂ = m/(1−β1^t)}, {@code v̂ = v/(1−β2^t)}.
 */
public final class Adam implements Optimizer {
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private final Map<String, Tensor> m = new HashMap<>();
  private final Map<String, Tensor> v = new HashMap<>();
  private final Map<String, Integer> t = new HashMap<>();

  public Adam(double beta1, double beta2, double eps, double weightDecay) {
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  /** β1 = 0.9, β2 = 0.999, ε = 1e-8, no weight decay. */
  public Adam() {
    this(0.9, 0.999, 1e-8, 0);
  }

  private static void replace(Map<String, Tensor> map, String key, Tensor value) {
    Tensor old = map.put(key, TensorScope.detach(value));
    if (old != null && old != value) {
      old.close();
    }
  }

  @Override
  public void step(Map<String, Parameter> parameters, double lr) {
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      Parameter p = e.getValue();
      if (p.grad() == null) {
        continue;
      }
      String k = e.getKey();
      try (TensorScope scope = TensorScope.open()) {
        Backend be = p.backend();
        Tensor g = p.grad();
        if (weightDecay != 0) {
          g = be.add(g, be.mulScalar(p.value(), weightDecay));
        }
        int step = t.merge(k, 1, Integer::sum);
        Tensor m0 = m.get(k);
        Tensor v0 = v.get(k);
        Tensor m1 =
            m0 == null
                ? be.mulScalar(g, 1 - beta1)
                : be.add(be.mulScalar(m0, beta1), be.mulScalar(g, 1 - beta1));
        Tensor v1 =
            v0 == null
                ? be.mulScalar(be.square(g), 1 - beta2)
                : be.add(be.mulScalar(v0, beta2), be.mulScalar(be.square(g), 1 - beta2));
        replace(m, k, m1);
        replace(v, k, v1);
        double c1 = 1 - Math.pow(beta1, step);
        double c2 = 1 - Math.pow(beta2, step);
        Tensor denom = be.addScalar(be.sqrt(be.mulScalar(v1, 1 / c2)), eps);
        p.update(be.sub(p.value(), be.mulScalar(be.div(m1, denom), lr / c1)));
      }
    }
  }

  @Override
  public Map<String, Tensor> state() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    m.forEach((k, x) -> out.put("m." + k, x));
    v.forEach((k, x) -> out.put("v." + k, x));
    return out;
  }

  @Override
  public Map<String, Long> counters() {
    Map<String, Long> out = new LinkedHashMap<>();
    t.forEach((k, n) -> out.put("t." + k, (long) n));
    return out;
  }

  @Override
  public void loadState(Map<String, Tensor> state, Map<String, Long> counters) {
    close();
    loadCounters(counters);
    state.forEach(
        (k, x) -> {
          Tensor copy = TensorScope.detach(x.backend().copy(x));
          if (k.startsWith("m.")) {
            m.put(k.substring(2), copy);
          } else if (k.startsWith("v.")) {
            v.put(k.substring(2), copy);
          } else {
            copy.close();
          }
        });
  }

  private void loadCounters(Map<String, Long> counters) {
    t.clear();
    counters.forEach(
        (k, n) -> {
          if (k.startsWith("t.")) {
            t.put(k.substring(2), n.intValue());
          }
        });
  }

  @Override
  public void close() {
    m.values().forEach(Tensor::close);
    v.values().forEach(Tensor::close);
    m.clear();
    v.clear();
  }
}
