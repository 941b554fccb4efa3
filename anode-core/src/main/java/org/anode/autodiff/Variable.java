package org.anode.autodiff;

import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * A tensor in a differentiable computation. Results of {@link Ops} on a recording {@link Tape} are
 * interior variables; a <em>leaf</em> that requires a gradient (an input or a parameter) receives
 * its gradient in {@link #grad()} when a tape sweeps backward, and further sweeps add to it.
 *
 * <p>The variable owns its accumulated gradient (it survives the {@link TensorScope} of the step
 * that computed it) and frees it in {@link #zeroGrad()}.
 */
public class Variable {
  private Tensor value;
  private final boolean requiresGrad;
  private final boolean leaf;
  private Tensor grad;

  /** The gradient is a tensor the variable does not own, alive only during the current sweep. */
  private boolean borrowed;

  protected Variable(Tensor value, boolean requiresGrad, boolean leaf) {
    this.value = value;
    this.requiresGrad = requiresGrad;
    this.leaf = leaf;
  }

  /** A value that no gradient flows to (data, labels, masks). */
  public static Variable constant(Tensor value) {
    return new Variable(value, false, true);
  }

  /** A leaf whose gradient a backward sweep accumulates into {@link #grad()}. */
  public static Variable leaf(Tensor value) {
    return new Variable(value, true, true);
  }

  static Variable result(Tensor value, boolean requiresGrad) {
    return new Variable(value, requiresGrad, false);
  }

  public Tensor value() {
    return value;
  }

  public Shape shape() {
    return value.shape();
  }

  public DType dtype() {
    return value.dtype();
  }

  public Backend backend() {
    return value.backend();
  }

  public boolean requiresGrad() {
    return requiresGrad;
  }

  public boolean isLeaf() {
    return leaf;
  }

  /** Parameters are excluded from the activation bytes of a {@link MemoryMeter}. */
  public boolean isParameter() {
    return false;
  }

  /** The accumulated gradient of a leaf, or null before any backward sweep reached it. */
  public Tensor grad() {
    return grad;
  }

  /** Removes the accumulated gradient and hands it to the caller (who must close it), or null. */
  public Tensor takeGrad() {
    Tensor g = grad;
    grad = null;
    return g;
  }

  /** Frees the accumulated gradient. */
  public void zeroGrad() {
    if (grad != null) {
      grad.close();
      grad = null;
    }
  }

  /**
   * Adds {@code g} to this leaf's gradient; the variable keeps its own copy. Backward sweeps call
   * this; so do gradient methods that compute a parameter gradient outside a sweep (the adjoint).
   */
  public void accumulateGrad(Tensor g) {
    Tensor sum = grad == null ? g.backend().copy(g) : g.backend().add(grad, g);
    TensorScope.detach(sum);
    if (grad != null && !borrowed) {
      grad.close();
    }
    grad = sum;
    borrowed = false;
  }

  /** As {@link #accumulateGrad}, taking ownership of {@code g} (detached from every scope). */
  void accumulateGradOwned(Tensor g) {
    if (grad == null) {
      grad = g;
    } else {
      accumulateGrad(g);
      g.close();
    }
  }

  /**
   * As {@link #accumulateGrad} for a {@code g} that stays alive until the sweep ends (the seed a
   * caller handed it): the first one is referenced, not copied, so a sweep whose leaf also receives
   * other gradients (a recomputed step's input: the seed through the identity and the field's
   * gradient) never holds the seed twice. True when the gradient is now borrowed; the sweep then
   * calls {@link #ownBorrowedGrad()} before it ends.
   */
  boolean accumulateGradBorrowed(Tensor g) {
    if (grad != null) {
      accumulateGrad(g);
      return false;
    }
    grad = g;
    borrowed = true;
    return true;
  }

  /** Replaces a borrowed gradient by the variable's own copy (no-op otherwise). */
  void ownBorrowedGrad() {
    if (borrowed) {
      Tensor copy = grad.backend().copy(grad);
      TensorScope.detach(copy);
      grad = copy;
      borrowed = false;
    }
  }

  /** Replaces the value (a parameter update); the caller decides who closes the old one. */
  protected void setValue(Tensor newValue) {
    this.value = newValue;
  }

  @Override
  public String toString() {
    return (leaf ? (requiresGrad ? "Leaf" : "Constant") : "Variable")
        + value.shape()
        + " "
        + value.dtype();
  }
}
