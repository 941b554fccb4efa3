package org.anode.autodiff;

import org.anode.api.Tensor;

/**
 * The vector–Jacobian product of one recorded operation: given the gradient of the loss with
 * respect to the operation's output, the gradients with respect to its inputs (null where {@code
 * needsGrad[i]} is false).
 */
@FunctionalInterface
public interface BackwardFunction {
  Tensor[] apply(Tensor gradOutput, boolean[] needsGrad);
}
