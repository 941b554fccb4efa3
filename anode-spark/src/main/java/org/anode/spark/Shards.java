package org.anode.spark;

/**
 * How a global batch is split among workers: contiguous shards in worker order, the first {@code
 * size mod workers} one image larger. The split depends only on the batch and the number of
 * workers, never on timing, so every worker computes the same bounds without talking.
 */
final class Shards {
  private Shards() {}

  /** The first position of worker {@code rank}'s shard of a batch of {@code size} images. */
  static int start(int size, int workers, int rank) {
    int base = size / workers;
    int extra = size % workers;
    return rank * base + Math.min(rank, extra);
  }

  /** One past the last position of worker {@code rank}'s shard. */
  static int end(int size, int workers, int rank) {
    return start(size, workers, rank + 1);
  }
}
