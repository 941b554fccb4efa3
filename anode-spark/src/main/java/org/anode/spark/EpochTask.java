package org.anode.spark;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.anode.data.DataLoader;
import org.anode.data.ImageDataset;
import org.anode.nn.Module;
import org.anode.train.Checkpoint;
import org.anode.train.Evaluation;
import org.anode.train.NonFiniteException;
import org.anode.train.Optimizer;
import org.anode.train.TrainingStep;

/**
 * One epoch of synchronous data-parallel SGD, as run by each worker of a barrier stage. The worker
 * builds its replica, restores the last checkpoint (the previous epoch's, or the last good one
 * after a failure), checks that every replica holds the same weights, then for every global batch
 * of the epoch — in the order one process would visit them, whatever the number of workers — takes
 * its shard, computes its gradient with the model's own gradient method, sums the gradients of all
 * workers ({@link AllReduce}, each shard's loss weighted by its share of the batch so the sum is
 * the gradient of the global batch's mean loss) and applies the identical update. After the epoch
 * the workers evaluate their shards of the test set, average their batch-norm running statistics,
 * and worker 0 writes the checkpoint that the next epoch starts from.
 */
final class EpochTask implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Datasets a worker JVM has read, per replica: later epochs reuse them. */
  private static final Map<List<Object>, ImageDataset> DATA = new ConcurrentHashMap<>();

  /** Reads and augments shards ahead of the step that needs them. */
  private static final Executor PREFETCH =
      Executors.newCachedThreadPool(DaemonThreads.named("anode-shard-prefetch"));

  /** Checkpoint configuration key naming the run that wrote it. */
  static final String RUN_ID = "run-id";

  private final DistributedJob job;
  private final int epoch;
  private final double lr;
  private final ExchangeSecurity security;
  private final String runId;
  private final int firstEpoch;

  /**
   * Epoch {@code epoch} of the run {@code runId}, which started at {@code firstEpoch} (from the
   * initial weights when 0, else from the checkpoint of epoch {@code firstEpoch − 1}).
   */
  EpochTask(
      DistributedJob job,
      int epoch,
      double lr,
      ExchangeSecurity security,
      String runId,
      int firstEpoch) {
    this.job = job;
    this.epoch = epoch;
    this.lr = lr;
    this.security = security;
    this.runId = runId;
    this.firstEpoch = firstEpoch;
  }

  DistributedJob job() {
    return job;
  }

  /** What a worker reports of its epoch (worker 0's report carries the global figures). */
  record Report(
      int worker,
      double trainLoss,
      double trainAccuracy,
      double testLoss,
      double testAccuracy,
      int images,
      long peakSavedBytes,
      long peakLiveBytes,
      double seconds,
      double exchangeSeconds,
      long bytesPerStep)
      implements Serializable {}

  /**
   * Runs the epoch as worker {@code rank} of {@code workers}; worker 0 runs on {@code rootHost},
   * and {@code allGather} and {@code killed} are the barrier task's (see {@link AllReduce}).
   */
  Report run(
      int rank,
      int workers,
      String rootHost,
      Function<String, String[]> allGather,
      BooleanSupplier killed)
      throws IOException {
    long start = System.nanoTime();
    Backend be = Backends.get(job.backend(), new BackendOptions(job.threadsPerWorker()));
    DType dtype = job.dtype();
    ImageDataset train;
    ImageDataset test;
    try {
      train = data(true);
      test = data(false);
    } catch (IOException | RuntimeException e) {
      // The same path reads the same on a retry: not worth one.
      throw new DeterministicFailure("worker " + rank + ": " + e.getMessage());
    }
    try (AllReduce reduce = new AllReduce(rank, workers, rootHost, security, allGather, killed);
        Module model = job.replica().model(be, dtype);
        Optimizer optimizer = job.replica().optimizer()) {
      // Recorded before the connections close: the other workers then fail too, of that.
      try {
        restore(be, model, optimizer);
        ReplicaSync.checkSameWeights(model, reduce, workers);
        DataLoader loader =
            new DataLoader(
                train, job.batchSize(), true, job.replica().trainingAugmentation(), job.seed());
        TrainingStep step = new TrainingStep(model, optimizer);
        int[] order = loader.order(epoch);
        double lossSum = 0;
        double right = 0;
        long peakSaved = 0;
        long peakLive = 0;
        int steps = 0;
        model.train(true);
        // Exchange time of the steps alone (not the wait for a replica still starting up).
        double exchangeBefore = reduce.seconds();
        long bytesBefore = reduce.bytesSent();
        // The next shard is read and augmented on another thread while this one trains.
        CompletableFuture<DataLoader.Batch> next = shard(loader, order, 0, rank, workers);
        for (int from = 0; from < order.length; from += job.batchSize(), steps++) {
          int size = Math.min(job.batchSize(), order.length - from);
          int lo = from + Shards.start(size, workers, rank);
          int hi = from + Shards.end(size, workers, rank);
          DataLoader.Batch shard = next.join();
          next = shard(loader, order, from + job.batchSize(), rank, workers);
          failIfInjected(rank, steps);
          double[] lossAndHits = new double[2];
          if (hi > lo) {
            double share = (hi - lo) / (double) size;
            int[] hits = {0};
            TrainingStep.Objective crossEntropy =
                TrainingStep.crossEntropy(shard.labels(), hits, job.replica().labelSmoothing());
            String where = "epoch " + (epoch + 1) + ", step " + (steps + 1) + ", worker " + rank;
            TrainingStep.Outcome o =
                step.run(
                    () -> Evaluation.images(be, dtype, shard, loader),
                    logits -> {
                      Variable mean = crossEntropy.loss(logits);
                      lossAndHits[0] = mean.value().item() * (hi - lo);
                      lossAndHits[1] = hits[0];
                      // The shard's part of the global batch's mean loss.
                      return Ops.mulScalar(mean, share);
                    },
                    lr,
                    where,
                    new TrainingStep.Checks() {
                      @Override
                      public void beforeUpdate() {
                        double[] totals = ReplicaSync.sumGradients(be, model, reduce, lossAndHits);
                        lossAndHits[0] = totals[0];
                        lossAndHits[1] = totals[1];
                      }
                    });
            peakSaved = Math.max(peakSaved, o.peakSavedBytes());
            peakLive = Math.max(peakLive, o.peakLiveBytes());
          } else {
            // No image of this batch is ours: the update still needs our (zero) part of the sum.
            double[] totals = ReplicaSync.sumGradients(be, model, reduce, lossAndHits);
            lossAndHits[0] = totals[0];
            lossAndHits[1] = totals[1];
            optimizer.step(model.parameters(), lr);
            model.zeroGrad();
          }
          if (!Double.isFinite(lossAndHits[0])) {
            throw new NonFiniteException(
                "epoch " + (epoch + 1) + ", step " + (steps + 1) + ": loss is " + lossAndHits[0]);
          }
          lossSum += lossAndHits[0];
          right += lossAndHits[1];
          if (rank == 0) {
            Progress.write(
                job, epoch, Math.min(from + job.batchSize(), order.length), order.length);
          }
        }
        double exchange = reduce.seconds() - exchangeBefore;
        long bytesPerStep = steps == 0 ? 0 : (reduce.bytesSent() - bytesBefore) / steps;
        ReplicaSync.averageBuffers(be, model, reduce, workers);
        double[] eval = evaluate(be, model, test, rank, workers, reduce);
        if (!Double.isFinite(eval[0])) {
          throw new NonFiniteException(
              "epoch "
                  + (epoch + 1)
                  + ": the test loss is "
                  + eval[0]
                  + " (the model is not saved)");
        }
        if (rank == 0) {
          String when = "epoch " + (epoch + 1) + ", ";
          NonFiniteException.checkState(be, model.stateDict(), when + "model state before saving");
          NonFiniteException.checkState(
              be, optimizer.state(), when + "optimizer state before saving");
          Map<String, String> run = new LinkedHashMap<>(job.run());
          run.put(RUN_ID, runId);
          new Checkpoint(
                  epoch,
                  job.seed(),
                  run,
                  model.stateDict(),
                  optimizer.state(),
                  optimizer.counters())
              .save(Path.of(job.checkpoint()));
        }
        // Nobody leaves before the checkpoint is on disk.
        reduce.sum("nothing (the wait for the checkpoint)", new double[0]);
        return new Report(
            rank,
            lossSum / order.length,
            right / order.length,
            eval[0],
            eval[1],
            order.length,
            peakSaved,
            peakLive,
            (System.nanoTime() - start) / 1e9,
            exchange,
            bytesPerStep);
      } catch (RuntimeException | Error e) {
        TaskFailures.record(job, e);
        throw e;
      }
    }
  }

  /**
   * Worker {@code rank}'s shard of the global batch at {@code from}, assembled in the background.
   */
  private CompletableFuture<DataLoader.Batch> shard(
      DataLoader loader, int[] order, int from, int rank, int workers) {
    if (from >= order.length) {
      return CompletableFuture.completedFuture(null);
    }
    int size = Math.min(job.batchSize(), order.length - from);
    int lo = from + Shards.start(size, workers, rank);
    int hi = from + Shards.end(size, workers, rank);
    return CompletableFuture.supplyAsync(() -> loader.assemble(epoch, order, lo, hi), PREFETCH);
  }

  private ImageDataset data(boolean training) throws IOException {
    List<Object> key = List.of(job.replica(), training);
    ImageDataset d = DATA.get(key);
    if (d == null) {
      d = training ? job.replica().trainingData() : job.replica().testData();
      DATA.put(key, d);
    }
    return d;
  }

  /**
   * The state this epoch starts from: the initial weights for a run's first epoch 0; the resumed
   * checkpoint for a resumed run's first epoch; else the checkpoint this run wrote after the
   * previous epoch. Any other checkpoint is refused (a failure that a retry would repeat).
   */
  private void restore(Backend be, Module model, Optimizer optimizer) throws IOException {
    if (epoch == 0) {
      return;
    }
    Path path = Path.of(job.checkpoint());
    try (TensorScope scope = TensorScope.open()) {
      Checkpoint c = Checkpoint.load(path, be);
      if (c.epoch() != epoch - 1) {
        throw new DeterministicFailure(
            path
                + " holds epoch "
                + (c.epoch() + 1)
                + ", epoch "
                + (epoch + 1)
                + " needs "
                + epoch);
      }
      if (epoch > firstEpoch && !runId.equals(c.config().get(RUN_ID))) {
        throw new DeterministicFailure(
            path + " was replaced by another run (run-id " + c.config().get(RUN_ID) + ")");
      }
      if (c.seed() != job.seed()) {
        throw new DeterministicFailure(
            path + " was written with seed " + c.seed() + ", this run has " + job.seed());
      }
      String mismatch = c.identityMismatch(job.run(), "this run");
      if (mismatch != null) {
        throw new DeterministicFailure(path + " " + mismatch);
      }
      model.loadStateDict(c.model());
      optimizer.loadState(c.optimizer(), c.counters());
    }
  }

  /** Test loss and accuracy over the whole test set, each worker evaluating its part. */
  private double[] evaluate(
      Backend be, Module model, ImageDataset test, int rank, int workers, AllReduce reduce) {
    int lo = Shards.start(test.size(), workers, rank);
    int hi = Shards.end(test.size(), workers, rank);
    double[] mine = new double[2];
    if (hi > lo) {
      int[] part = new int[hi - lo];
      for (int i = 0; i < part.length; i++) {
        part[i] = lo + i;
      }
      DataLoader loader =
          new DataLoader(
              test.subset(part),
              job.batchSize(),
              false,
              job.replica().evaluationAugmentation(),
              job.seed());
      double[] r = Evaluation.run(be, model, job.dtype(), loader, job.replica().flipEvaluation());
      mine[0] = r[0] * part.length;
      mine[1] = r[1] * part.length;
    }
    double[] total = reduce.sum("the test loss and accuracy", mine);
    return new double[] {total[0] / test.size(), total[1] / test.size()};
  }

  private void failIfInjected(int rank, int step) throws IOException {
    DistributedJob.InjectedFailure f = job.failure();
    if (f == null || f.epoch() != epoch || f.step() != step || f.worker() != rank) {
      return;
    }
    Path marker = Path.of(f.marker());
    if (!Files.exists(marker)) {
      Files.createDirectories(marker.toAbsolutePath().getParent());
      Files.writeString(marker, "failed once at epoch " + (epoch + 1) + ", step " + (step + 1));
      throw new IllegalStateException(
          "injected failure: worker " + rank + ", epoch " + (epoch + 1) + ", step " + (step + 1));
    }
  }
}
