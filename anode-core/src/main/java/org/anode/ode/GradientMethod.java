package org.anode.ode;

import java.util.Locale;
import org.anode.autodiff.Variable;

/**
 * How an {@link OdeBlock} is differentiated: what its forward pass keeps and what its backward pass
 * recomputes. A small strategy object handed to the block, never a flag.
 *
 * <ul>
 *   <li>{@link StoreAllGradient}: every stage of every step on the tape, O(L·N_t) memory.
 *   <li>{@link CheckpointedGradient}: ANODE, the block input only, recomputed once in backward;
 *       O(L) + O(N_t).
 *   <li>{@link RevolveGradient}: ANODE with binomial checkpointing inside the block; O(L) + O(s).
 *   <li>{@link AdjointGradient}: Chen et al.'s continuous adjoint; O(L), but not the gradient of
 *       the discrete forward pass.
 * </ul>
 *
 * The first three give the exact gradient of the steps that ran (discretize-then-optimize) and
 * agree to round-off.
 */
public interface GradientMethod {

  /**
   * Integrates the block from {@code z0}, recording what this method needs for backward; {@code
   * block} offers everything the built-in methods use.
   */
  Variable integrate(BlockContext block, Variable z0);

  /** Short name, such as {@code "anode"}. */
  String name();

  /**
   * A new method by the name {@link #name()} gives it: {@code anode}, {@code anode-recompute-all},
   * {@code store-all}, {@code revolve:S} (S snapshots), {@code adjoint} or {@code reversible}; case
   * and surrounding spaces are ignored.
   */
  static GradientMethod named(String name) {
    String n = name.trim().toLowerCase(Locale.ROOT);
    switch (n) {
      case "anode":
        return new CheckpointedGradient();
      case "store-all":
        return new StoreAllGradient();
      case "anode-recompute-all":
        return CheckpointedGradient.recomputingEveryBlock();
      case "adjoint":
        return new AdjointGradient();
      case "reversible":
        return new ReversibleGradient();
      default:
        break;
    }
    if (n.startsWith("revolve:")) {
      try {
        return new RevolveGradient(Integer.parseInt(n.substring("revolve:".length())));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "gradient method revolve:S needs an integer S, got " + name);
      }
    }
    throw new IllegalArgumentException(
        "gradient method must be anode, anode-recompute-all, store-all, revolve:S, adjoint or"
            + " reversible, got '"
            + name
            + "'");
  }
}
