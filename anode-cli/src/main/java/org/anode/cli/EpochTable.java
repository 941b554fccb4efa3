package org.anode.cli;

import org.anode.train.EpochMetrics;

/** The epoch table that {@code anode train} prints, one process or many: shared columns first. */
final class EpochTable {
  private EpochTable() {}

  /** The header of the shared columns; the caller appends its own. */
  static final String HEADER =
      "epoch  lr        train loss  train acc  test loss  test acc  time (s)  img/s";

  /** One row's shared columns (no line end); the caller appends its own. */
  static String row(EpochMetrics m) {
    return String.format(
        "%5d  %-8.2g  %10.4f  %8.2f%%  %9.4f  %7.2f%%  %8.1f  %5.0f",
        m.epoch(),
        m.learningRate(),
        m.trainLoss(),
        100 * m.trainAccuracy(),
        m.testLoss(),
        100 * m.testAccuracy(),
        m.seconds(),
        m.imagesPerSecond());
  }
}
