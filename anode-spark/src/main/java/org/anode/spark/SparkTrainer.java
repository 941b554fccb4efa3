package org.anode.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import org.anode.train.Checkpoint;
import org.anode.train.EpochMetrics;
import org.anode.train.LearningRateSchedule;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Synchronous data-parallel training on Apache Spark: each epoch runs as one barrier stage of
 * {@link DistributedJob#workers} tasks (Spark launches them together or not at all), one per
 * worker, that exchange gradients every step ({@link EpochTask}). The model's state goes from one
 * epoch to the next through the checkpoint worker 0 writes at the end of each epoch, so a failed
 * epoch is simply run again from the last checkpoint — by Spark's own retry of the barrier stage,
 * else by this driver, up to {@link #maxAttempts} times — and, training being deterministic, ends
 * with the same parameters as if nothing had failed.
 */
public final class SparkTrainer {
  private static final Logger LOG = LoggerFactory.getLogger(SparkTrainer.class);
  private final JavaSparkContext spark;
  private final DistributedJob job;
  private final LearningRateSchedule schedule;
  private final String runId = UUID.randomUUID().toString();
  private final ExchangeSecurity security;
  private int maxAttempts = 3;
  private boolean fresh;
  private int firstEpoch = -1;

  /**
   * A trainer for {@code job} on {@code spark}. The gradient exchange gets a secret of its own for
   * this run, and is encrypted when Spark's {@code spark.network.crypto.enabled} is set.
   */
  public SparkTrainer(JavaSparkContext spark, DistributedJob job, LearningRateSchedule schedule) {
    this.spark = spark;
    this.job = job;
    this.schedule = schedule;
    this.security =
        ExchangeSecurity.generate(
            spark.getConf().getBoolean("spark.network.crypto.enabled", false));
  }

  /**
   * Starts a new run at epoch 0 even if the checkpoint exists: the existing one is left as it is
   * until this run's first epoch replaces it (the default continues from it).
   */
  public SparkTrainer startFresh() {
    this.fresh = true;
    return this;
  }

  /** How many times an epoch is started before the run gives up (default 3). */
  public SparkTrainer maxAttempts(int attempts) {
    if (attempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, got " + attempts);
    }
    this.maxAttempts = attempts;
    return this;
  }

  /** What one epoch measured, with the time its workers spent summing gradients. */
  public record Epoch(EpochMetrics metrics, double exchangeSeconds, long bytesPerStep) {}

  /**
   * The first epoch to run: 0 for a fresh run or when there is no checkpoint, else the one after
   * the checkpoint's, which must have this run's seed and {@link Checkpoint#IDENTITY} entries
   * (checked here, before any task starts).
   */
  public int firstEpoch() throws IOException {
    if (firstEpoch >= 0) {
      return firstEpoch;
    }
    Path ckpt = Path.of(job.checkpoint());
    if (fresh || !Files.exists(ckpt)) {
      return firstEpoch = 0;
    }
    Checkpoint.Header h = Checkpoint.readHeader(ckpt);
    if (h.seed() != job.seed()) {
      throw new IllegalArgumentException(
          "resume: "
              + ckpt
              + " was written with seed "
              + h.seed()
              + ", this run has "
              + job.seed());
    }
    String mismatch = h.identityMismatch(job.run(), "this run");
    if (mismatch != null) {
      throw new IllegalArgumentException("resume: " + ckpt + " " + mismatch);
    }
    return firstEpoch = h.epoch() + 1;
  }

  /**
   * Trains epochs {@link #firstEpoch} to {@code epochs − 1}, reporting each as it ends (an epoch
   * saved just before its stage failed is not reported: its figures are lost with the stage).
   */
  public List<Epoch> fit(int epochs, Consumer<Epoch> onEpoch) throws IOException {
    return fit(epochs, onEpoch, (epoch, images, total) -> {});
  }

  /**
   * As {@link #fit(int, Consumer)}, also telling {@code progress} (every half second) how many
   * images of the running epoch worker 0 has done.
   */
  public List<Epoch> fit(int epochs, Consumer<Epoch> onEpoch, Progress.Listener progress)
      throws IOException {
    List<Epoch> out = new ArrayList<>();
    ScheduledExecutorService poll =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("anode-spark-progress"));
    try {
      for (int e = firstEpoch(); e < epochs; e++) {
        int epoch = e;
        ScheduledFuture<?> watch =
            poll.scheduleWithFixedDelay(
                () -> Progress.read(job, epoch, progress), 500, 500, TimeUnit.MILLISECONDS);
        Epoch done;
        try {
          done = runEpoch(e);
        } finally {
          watch.cancel(false);
        }
        if (done != null) {
          out.add(done);
          onEpoch.accept(done);
        }
      }
    } finally {
      poll.shutdownNow();
      Files.deleteIfExists(Progress.file(job));
    }
    return out;
  }

  private Epoch runEpoch(int epoch) throws IOException {
    double lr = schedule.rate(epoch);
    EpochTask task = new EpochTask(job, epoch, lr, security, runId, firstEpoch());
    for (int attempt = 1; ; attempt++) {
      try {
        TaskFailures.clear(job);
        EpochTask.Report r = runBarrierStage(task);
        EpochMetrics m =
            new EpochMetrics(
                epoch + 1,
                lr,
                r.trainLoss(),
                r.trainAccuracy(),
                r.testLoss(),
                r.testAccuracy(),
                r.seconds(),
                r.images() / r.seconds(),
                r.peakSavedBytes(),
                r.peakLiveBytes());
        return new Epoch(m, r.exchangeSeconds(), r.bytesPerStep());
      } catch (SparkException | RuntimeException stageFailure) {
        Throwable e = TaskFailures.take(job, stageFailure);
        if (savedEpoch() >= epoch) {
          // Worker 0 saved the epoch, then the stage failed (another task, or the return): the
          // state is the epoch's end, only its figures are lost.
          LOG.warn(
              "epoch {} was saved to {} before the failure ({}); its figures are lost",
              epoch + 1,
              job.checkpoint(),
              TaskFailures.rootMessage(e));
          return null;
        }
        TaskFailures.rethrowIfFinal(e, epoch);
        if (spark.sc().isStopped()) {
          throw new IOException(
              "epoch " + (epoch + 1) + ": Spark stopped (" + TaskFailures.rootMessage(e) + ")", e);
        }
        if (attempt >= maxAttempts) {
          throw new IOException(
              "epoch "
                  + (epoch + 1)
                  + " failed "
                  + attempt
                  + " times; last: "
                  + TaskFailures.rootMessage(e),
              e);
        }
        LOG.warn(
            "epoch {} failed ({}); restarting it from {}",
            epoch + 1,
            TaskFailures.rootMessage(e),
            epoch == 0 ? "the initial weights" : job.checkpoint());
      }
    }
  }

  /** The epoch this run's last checkpoint holds, or −1 when this run has saved none. */
  private int savedEpoch() throws IOException {
    Path ckpt = Path.of(job.checkpoint());
    if (!Files.exists(ckpt)) {
      return -1;
    }
    Checkpoint.Header h = Checkpoint.readHeader(ckpt);
    return runId.equals(h.config().get(EpochTask.RUN_ID)) ? h.epoch() : -1;
  }

  private EpochTask.Report runBarrierStage(EpochTask task) throws SparkException {
    int n = job.workers();
    JavaRDD<Integer> ranks = spark.parallelize(IntStream.range(0, n).boxed().toList(), n);
    ClassTag<EpochTask.Report> tag = ClassTag$.MODULE$.apply(EpochTask.Report.class);
    RDD<EpochTask.Report> reports =
        ranks.rdd().barrier().mapPartitions(new BarrierEpoch(task), false, tag);
    List<EpochTask.Report> all = new JavaRDD<>(reports, tag).collect();
    return all.stream()
        .filter(r -> r.worker() == 0)
        .findFirst()
        .orElseThrow(() -> new SparkException("no report from worker 0"));
  }
}
