package org.anode.spark;

import java.io.Serializable;
import java.util.Map;
import org.anode.api.DType;

/**
 * A synchronous data-parallel training run: which replica, on which backend with how many kernel
 * threads per worker, in which dtype, on how many workers, with which global batch, and where the
 * checkpoint that carries the state from one epoch to the next (and through failures) lives. The
 * checkpoint path must be visible to every worker (a local path with {@code local[N]}, a shared
 * filesystem on a cluster).
 *
 * @param batchSize the global batch, split among the workers ({@link Shards})
 * @param run the run's description, recorded in the checkpoint and compared on resume
 * @param failure a fault to inject once (tests of the restart path), or null
 */
public record DistributedJob(
    Replica replica,
    String backend,
    int threadsPerWorker,
    DType dtype,
    long seed,
    int workers,
    int batchSize,
    String checkpoint,
    Map<String, String> run,
    InjectedFailure failure)
    implements Serializable {

  public DistributedJob {
    if (workers < 1) {
      throw new IllegalArgumentException("--workers must be at least 1, got " + workers);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("--batch must be at least 1, got " + batchSize);
    }
    if (checkpoint == null) {
      throw new IllegalArgumentException(
          "distributed training needs a checkpoint path all workers see (--checkpoint)");
    }
    run = Map.copyOf(run);
  }

  /**
   * A task that throws at step {@code step} (0-based) of epoch {@code epoch} on worker {@code
   * worker}, once: it leaves {@code marker} behind (a path all workers see) and does not throw
   * again while it exists. For tests of the restart from the last checkpoint.
   */
  public record InjectedFailure(int epoch, int step, int worker, String marker)
      implements Serializable {}
}
