package org.anode.train;

import java.util.Map;
import org.anode.api.Tensor;
import org.anode.nn.Parameter;

/**
 * Updates parameters from their accumulated gradients. State (momentum buffers, moment estimates)
 * is kept per parameter name and can be saved and restored with a checkpoint.
 */
public interface Optimizer extends AutoCloseable {

  /** One update of every parameter that has a gradient, with learning rate {@code lr}. */
  void step(Map<String, Parameter> parameters, double lr);

  /** The state tensors by name (owned by the optimizer), for checkpoints. */
  Map<String, Tensor> state();

  /** Step counters by name (Adam's t), for checkpoints. */
  default Map<String, Long> counters() {
    return Map.of();
  }

  /** Restores what {@link #state()} and {@link #counters()} returned; tensors are copied. */
  void loadState(Map<String, Tensor> state, Map<String, Long> counters);

  /** The optimizer's kind ({@code sgd}, {@code adam}), recorded in checkpoints. */
  default String kind() {
    return getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
  }

  /** Frees the state. */
  @Override
  void close();
}
