package org.anode.spark;

import java.io.IOException;
import org.anode.train.NonFiniteException;

/**
 * What the driver makes of a failed epoch stage: Spark hands it the first failed task's exception,
 * in local mode as the object itself, from a cluster as text inside a {@code SparkException}. A
 * {@link NonFiniteException} or a {@link DeterministicFailure} would happen again on a retry, so
 * they end the run with their own message instead (the latter as an {@link IOException}: the
 * checkpoint or the replicas are at fault, not the program).
 */
final class TaskFailures {
  private TaskFailures() {}

  /** Throws the task's own failure when a retry would repeat it; returns otherwise. */
  static void rethrowIfFinal(Throwable e, int epoch) throws IOException {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof NonFiniteException n) {
        throw n;
      }
      if (t instanceof DeterministicFailure d) {
        throw new IOException("epoch " + (epoch + 1) + ": " + d.getMessage(), d);
      }
      String text = t.getMessage() == null ? "" : t.getMessage();
      String nonFinite = after(text, NonFiniteException.class.getName() + ": ");
      if (nonFinite != null) {
        throw new NonFiniteException(nonFinite);
      }
      String deterministic = after(text, DeterministicFailure.class.getName() + ": ");
      if (deterministic != null) {
        throw new IOException("epoch " + (epoch + 1) + ": " + deterministic, e);
      }
    }
  }

  /** The rest of the line after {@code marker} in {@code text}, or null. */
  private static String after(String text, String marker) {
    int at = text.indexOf(marker);
    if (at < 0) {
      return null;
    }
    int end = text.indexOf('\n', at);
    return text.substring(at + marker.length(), end < 0 ? text.length() : end).trim();
  }

  /** The innermost cause's class and message, for one-line reports. */
  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }
}
