package org.anode.ode;

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

  /** Integrates {@code block} from {@code z0}, recording what this method needs for backward. */
  Variable integrate(OdeBlock block, Variable z0);

  /** Short name, such as {@code "anode"}. */
  String name();
}
