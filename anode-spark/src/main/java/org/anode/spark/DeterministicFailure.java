package org.anode.spark;

/**
 * A failure of an epoch's task that running the epoch again would repeat: the checkpoint is not the
 * one this epoch needs, or the replicas start from different weights. The driver does not retry it
 * ({@link SparkTrainer}), as it does not retry a {@link org.anode.train.NonFiniteException}.
 */
final class DeterministicFailure extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  DeterministicFailure(String message) {
    super(message);
  }
}
