package org.anode.nn;

import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Variable;

/**
 * A trainable tensor of a {@link Module}: a leaf whose gradient accumulates in {@link #grad()}. It
 * owns its value (outside every {@link TensorScope}); an optimizer replaces the value with {@link
 * #update}, which frees the old one.
 */
public final class Parameter extends Variable {

  /** Takes ownership of {@code value}, detaching it from any scope. */
  public Parameter(Tensor value) {
    super(TensorScope.detach(value), true, true);
  }

  @Override
  public boolean isParameter() {
    return true;
  }

  /** Replaces the value by {@code newValue} (taking ownership of it) and frees the old one. */
  public void update(Tensor newValue) {
    if (!newValue.shape().equals(shape()) || newValue.dtype() != dtype()) {
      throw new IllegalArgumentException(
          "Parameter.update: new value "
              + newValue.shape()
              + " "
              + newValue.dtype()
              + " does not match "
              + shape()
              + " "
              + dtype());
    }
    Tensor old = value();
    setValue(TensorScope.detach(newValue));
    if (old != newValue) {
      old.close();
    }
  }

  /** Frees the value and the gradient. */
  public void close() {
    zeroGrad();
    value().close();
  }
}
