package org.anode.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.anode.spark.DistributedJob;
import org.anode.spark.SparkTrainer;
import org.anode.train.Checkpoint;
import org.anode.train.EpochMetrics;
import org.anode.train.MetricsLog;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * {@code anode train --workers N}: the run on Spark, {@code local[N]} unless {@code --spark-master}
 * names a cluster (or {@code spark-submit} set one). Prints the same epoch table as a single
 * process, plus the time share and bytes of the gradient exchange, and writes the same metrics and
 * checkpoint.
 */
final class SparkTraining {
  private SparkTraining() {}

  /** Where and how to run, besides the run's configuration. */
  record Settings(
      int workers,
      String master,
      int epochs,
      Path checkpoint,
      Path metrics,
      boolean resume,
      boolean progress,
      Map<String, String> run) {}

  static int run(RunConfig config, Settings s) throws IOException {
    int cores = Runtime.getRuntime().availableProcessors();
    int threads = config.threads() > 0 ? config.threads() : Math.max(1, cores / s.workers());
    String backend = config.backend() != null ? config.backend() : "nd4j";
    if (!s.resume()) {
      // A new run: the checkpoint carries state between epochs, so none may be there.
      Files.deleteIfExists(s.checkpoint());
      Checkpoint.removeLeftovers(s.checkpoint());
    }
    DistributedJob job =
        new DistributedJob(
            new CliReplica(config),
            backend,
            threads,
            config.dtype(),
            config.seed(),
            s.workers(),
            config.batch(),
            s.checkpoint().toAbsolutePath().toString(),
            s.run(),
            null);
    SparkConf conf = new SparkConf().setAppName("anode train");
    if (s.master() != null) {
      conf.setMaster(s.master());
    } else if (!conf.contains("spark.master")) {
      conf.setMaster("local[" + s.workers() + "]");
    }
    conf.setIfMissing("spark.ui.enabled", "false");
    try (JavaSparkContext spark = new JavaSparkContext(conf)) {
      SparkTrainer trainer =
          new SparkTrainer(spark, job, TrainingModule.schedule(config.optimization()));
      int first = trainer.firstEpoch();
      if (first >= s.epochs()) {
        System.out.printf(
            "%s already holds %d epochs (--epochs %d): nothing to do%n",
            s.checkpoint(), first, s.epochs());
        return 0;
      }
      MetricsLog metrics = new MetricsLog(s.metrics(), s.run());
      metrics.start(first);
      System.out.printf(
          "anode train on Spark (%s): %d workers × %d threads, %s %s, global batch %d (%s per"
              + " worker)%n",
          spark.master(),
          s.workers(),
          threads,
          backend,
          config.dtype(),
          config.batch(),
          shares(config.batch(), s.workers()));
      System.out.println(EpochTable.HEADER + "  exchange  KiB/step");
      ProgressBar[] bar = {null};
      trainer.fit(
          s.epochs(),
          e -> {
            if (bar[0] != null) {
              bar[0].close();
              bar[0] = null;
            }
            EpochMetrics m = e.metrics();
            System.out.printf(
                "%s  %7.1f%%  %8.0f%n",
                EpochTable.row(m),
                100 * e.exchangeSeconds() / m.seconds(),
                e.bytesPerStep() / 1024.0);
            try {
              metrics.append(m);
            } catch (IOException io) {
              throw new java.io.UncheckedIOException(io);
            }
          },
          (epoch, images, total) -> {
            if (!s.progress()) {
              return;
            }
            if (bar[0] == null) {
              bar[0] =
                  new ProgressBarBuilder()
                      .setTaskName("epoch " + (epoch + 1) + "/" + s.epochs())
                      .setInitialMax(total)
                      .setStyle(ProgressBarStyle.ASCII)
                      .setUnit(" img", 1)
                      .showSpeed()
                      .build();
            }
            bar[0].stepTo(images);
          });
    }
    return 0;
  }

  private static String shares(int batch, int workers) {
    int small = batch / workers;
    return batch % workers == 0 ? Integer.toString(small) : small + "–" + (small + 1);
  }
}
