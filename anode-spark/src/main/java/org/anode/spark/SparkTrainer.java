package org.anode.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
  private int maxAttempts = 3;

  public SparkTrainer(JavaSparkContext spark, DistributedJob job, LearningRateSchedule schedule) {
    this.spark = spark;
    this.job = job;
    this.schedule = schedule;
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

  /** The first epoch to run: after the one the checkpoint holds, or 0 when there is none. */
  public int firstEpoch() throws IOException {
    Path ckpt = Path.of(job.checkpoint());
    if (!Files.exists(ckpt)) {
      return 0;
    }
    return Checkpoint.readEpoch(ckpt) + 1;
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
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "anode-spark-progress");
              t.setDaemon(true);
              return t;
            });
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
    for (int attempt = 1; ; attempt++) {
      try {
        EpochTask.Report r = runBarrierStage(new EpochTask(job, epoch, lr));
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
      } catch (SparkException | RuntimeException e) {
        if (savedEpoch() >= epoch) {
          // Worker 0 saved the epoch, then the stage failed (another task, or the return): the
          // state is the epoch's end, only its figures are lost.
          LOG.warn(
              "epoch {} was saved to {} before the failure ({}); its figures are lost",
              epoch + 1,
              job.checkpoint(),
              rootMessage(e));
          return null;
        }
        if (attempt >= maxAttempts) {
          throw new IOException(
              "epoch " + (epoch + 1) + " failed " + attempt + " times; last: " + rootMessage(e), e);
        }
        LOG.warn(
            "epoch {} failed ({}); restarting it from {}",
            epoch + 1,
            rootMessage(e),
            epoch == 0 ? "the initial weights" : job.checkpoint());
      }
    }
  }

  /** The epoch the checkpoint holds, or −1 when there is none. */
  private int savedEpoch() throws IOException {
    Path ckpt = Path.of(job.checkpoint());
    return Files.exists(ckpt) ? Checkpoint.readEpoch(ckpt) : -1;
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

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }
}
