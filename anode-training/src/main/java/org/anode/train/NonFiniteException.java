package org.anode.train;

/** A NaN or infinity in the loss or a gradient: names the epoch, the step and where it appeared. */
public final class NonFiniteException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NonFiniteException(String message) {
    super(message);
  }
}
