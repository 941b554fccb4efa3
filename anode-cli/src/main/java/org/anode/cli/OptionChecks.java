package org.anode.cli;

/**
 * Range checks of numeric command-line options, run before anything starts; each failure names the
 * option, the allowed range and the value given.
 */
final class OptionChecks {
  private OptionChecks() {}

  static void atLeast(String option, long value, long min) {
    if (value < min) {
      throw new IllegalArgumentException(option + " must be at least " + min + ", got " + value);
    }
  }

  static void positiveFinite(String option, double value) {
    if (!(value > 0) || !Double.isFinite(value)) {
      throw new IllegalArgumentException(
          option + " must be a positive finite number, got " + value);
    }
  }

  static void nonNegativeFinite(String option, double value) {
    if (!(value >= 0) || !Double.isFinite(value)) {
      throw new IllegalArgumentException(option + " must be a finite number ≥ 0, got " + value);
    }
  }

  /** {@code [min, max)}. */
  static void inRange(String option, double value, double min, double max) {
    if (!(value >= min && value < max)) {
      throw new IllegalArgumentException(
          option + " must be in [" + min + ", " + max + "), got " + value);
    }
  }

  /** {@code [min, max]}. */
  static void inClosedRange(String option, long value, long min, long max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          option + " must be in [" + min + ", " + max + "], got " + value);
    }
  }
}
