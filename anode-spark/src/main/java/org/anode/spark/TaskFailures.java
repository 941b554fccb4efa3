package org.anode.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.anode.train.NonFiniteException;

/**
 * What the driver makes of a failed epoch stage. Spark's report of a failed barrier stage does not
 * carry the task's exception ("barrier task … finished unsuccessfully"), so the first task to fail
 * also writes its exception's first line beside the checkpoint ({@code <checkpoint>.failure}, a
 * path all see, as {@link Progress} uses). A {@link NonFiniteException} or a {@link
 * DeterministicFailure} would happen again on a retry, so they end the run with their own message
 * instead (the latter as an {@link IOException}: the checkpoint, the data or the replicas are at
 * fault, not the program).
 */
final class TaskFailures {
  private TaskFailures() {}

  static Path file(DistributedJob job) {
    return Path.of(job.checkpoint() + ".failure");
  }

  /** A task's failure, recorded unless another task's came first (the others follow from it). */
  static void record(DistributedJob job, Throwable t) {
    Throwable cause = t;
    while ((cause instanceof UncheckedIOException || cause.getMessage() == null)
        && cause.getCause() != null
        && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    String message =
        cause.getMessage() == null ? "" : cause.getMessage().lines().findFirst().orElse("");
    try {
      Files.writeString(
          file(job),
          cause.getClass().getName() + ": " + message,
          StandardOpenOption.CREATE_NEW,
          StandardOpenOption.WRITE);
    } catch (IOException e) {
      // Another task's failure is already there, or the folder is not writable: Spark's own
      // report remains.
    }
  }

  /** The recorded failure of the last stage, removed; Spark's exception when none was recorded. */
  static Throwable take(DistributedJob job, Throwable sparks) {
    try {
      String text = Files.readString(file(job)).trim();
      Files.deleteIfExists(file(job));
      return new IOException(text, sparks);
    } catch (IOException e) {
      return sparks;
    }
  }

  /** Removes a failure record left by an earlier stage. */
  static void clear(DistributedJob job) throws IOException {
    Files.deleteIfExists(file(job));
  }

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

  /** The recorded failure's line, else the innermost cause's class and message. */
  static String rootMessage(Throwable e) {
    if (e instanceof IOException && e.getCause() instanceof org.apache.spark.SparkException) {
      return e.getMessage();
    }
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }
}
