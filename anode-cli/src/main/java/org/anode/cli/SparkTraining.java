package org.anode.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Backends;
import org.anode.nn.Module;
import org.anode.spark.DistributedJob;
import org.anode.spark.SparkTrainer;
import org.anode.train.Checkpoint;
import org.anode.train.EpochMetrics;
import org.anode.train.MetricsLog;
import org.anode.train.NonFiniteException;
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
      Map<String, String> run,
      String memory) {}

  /** Spark master URLs this command can start (spark-submit may set others). */
  private static final Pattern MASTER =
      Pattern.compile(
          "local(\\[(\\d+|\\*)(,\\d+)?\\])?|spark://[^/\\s]+(,[^/\\s]+)*|yarn|k8s://\\S+");

  /**
   * Checks {@code --workers} and {@code --spark-master} against this machine before anything
   * starts: a local run's workers share its cores ({@code --workers} × threads per worker at most
   * the cores); a standalone master must answer on its port.
   */
  static void checkResources(int workers, int threads, String master) {
    if (master != null && !MASTER.matcher(master).matches()) {
      throw new IllegalArgumentException(
          "--spark-master "
              + master
              + ": not a master URL (local[N], spark://host:port, yarn or k8s://…)");
    }
    boolean local = master == null || master.startsWith("local");
    int cores = Runtime.getRuntime().availableProcessors();
    if (local && workers * (long) Math.max(1, threads) > cores) {
      throw new IllegalArgumentException(
          "--workers "
              + workers
              + (threads > 0 ? " × --threads " + threads : "")
              + " in one process: this machine gives it "
              + cores
              + " cores (at most --workers "
              + Math.max(1, cores / Math.max(1, threads))
              + ")");
    }
    if (master != null && master.startsWith("spark://")) {
      for (String hostPort : master.substring("spark://".length()).split(",")) {
        probe(master, hostPort);
      }
    }
  }

  private static void probe(String master, String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
    int port;
    try {
      port = colon < 0 ? 7077 : Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--spark-master " + master + ": bad port in " + hostPort);
    }
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), 5000);
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--spark-master "
              + master
              + ": nothing answers at "
              + host
              + ":"
              + port
              + " ("
              + e
              + ")");
    }
  }

  static int run(RunConfig config, Settings s) throws IOException {
    int cores = Runtime.getRuntime().availableProcessors();
    int threads = config.threads() > 0 ? config.threads() : Math.max(1, cores / s.workers());
    String backend = config.backend() != null ? config.backend() : "nd4j";
    Map<String, String> run = new LinkedHashMap<>(s.run());
    // Recorded as one process records it, so that a resume with another optimizer is refused.
    run.put("optimizer", config.optimization().optimizer());
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
            run,
            null);
    SparkConf conf = new SparkConf().setAppName("anode train");
    String master = s.master() != null ? s.master() : conf.get("spark.master", null);
    if (master == null || master.startsWith("local")) {
      checkWorkerMemory(config, s, backend, threads);
    }
    if (s.master() != null) {
      conf.setMaster(s.master());
    } else if (!conf.contains("spark.master")) {
      conf.setMaster("local[" + s.workers() + "]");
    }
    conf.setIfMissing("spark.ui.enabled", "false");
    secure(conf);
    JavaSparkContext context;
    try {
      context = new JavaSparkContext(conf);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "Spark master " + conf.get("spark.master") + ": " + e.getMessage(), e);
    }
    try (JavaSparkContext spark = context) {
      SparkTrainer trainer =
          new SparkTrainer(spark, job, TrainingModule.schedule(config.optimization()));
      if (!s.resume()) {
        // A new run: any checkpoint there is replaced when this run's first epoch is saved.
        trainer.startFresh();
      }
      int first = trainer.firstEpoch();
      if (first >= s.epochs()) {
        System.out.printf(
            "%s already holds %d epochs (--epochs %d): nothing to do%n",
            s.checkpoint(), first, s.epochs());
        return 0;
      }
      MetricsLog metrics = new MetricsLog(s.metrics(), run);
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
    } catch (NonFiniteException e) {
      System.err.println("training stopped: " + e.getMessage() + "; " + lastGood(s.checkpoint()));
      return 2;
    }
    return 0;
  }

  /**
   * In one process the workers share its memory: each worker's step (its share of the batch, with
   * the run's gradient method) and replica must fit in 1/N of what is available (or of --memory).
   * Checked before Spark starts, with the workers' backend and options.
   */
  private static void checkWorkerMemory(RunConfig config, Settings s, String backend, int threads) {
    Backend be = Backends.get(backend, new BackendOptions(threads));
    int share = (config.batch() + s.workers() - 1) / s.workers();
    try (Module net = new CliReplica(config).model(be, config.dtype())) {
      long available =
          s.memory() != null
              ? MemoryCheck.parseSize("--memory", s.memory())
              : MemoryCheck.available(MemoryCheck.stateBytes(net) * s.workers());
      long perWorker = available < 0 ? -1 : available / s.workers();
      MemoryCheck.Decision d =
          MemoryCheck.decide(
              net,
              be,
              config.dtype(),
              share,
              config.method(),
              config.optimization().stateSlots(),
              perWorker);
      if (d.note() != null) {
        throw new IllegalArgumentException(
            "--workers "
                + s.workers()
                + " in one process: each worker has "
                + MemoryCheck.mib(perWorker)
                + ", and with --method "
                + config.method()
                + " its step ("
                + share
                + " images) "
                + d.note().replaceFirst("^\\S+ ", "")
                + "; --method "
                + d.method()
                + " fits (~"
                + MemoryCheck.mib(d.predicted())
                + "), or lower --workers, --batch or --width");
      }
      if (perWorker > 0) {
        System.out.printf(
            "memory: ~%s predicted for each worker's step, %s available to each of %d%n",
            MemoryCheck.mib(d.predicted()), MemoryCheck.mib(perWorker), s.workers());
      }
    } catch (IllegalArgumentException e) {
      if (e.getMessage().startsWith("not enough memory")) {
        throw new IllegalArgumentException(
            "--workers " + s.workers() + " in one process, each worker: " + e.getMessage(), e);
      }
      throw e;
    }
  }

  private static String lastGood(Path checkpoint) throws IOException {
    return Files.exists(checkpoint)
        ? "last good checkpoint: "
            + checkpoint
            + " (epoch "
            + (Checkpoint.readEpoch(checkpoint) + 1)
            + ")"
        : "no checkpoint was written";
  }

  /**
   * A local run keeps Spark's ports on the loopback address and authenticates its own connections;
   * a cluster run must be configured securely by its operator (README, "Training on Spark
   * securely"), and is warned when it is not.
   */
  private static void secure(SparkConf conf) {
    if (conf.get("spark.master").startsWith("local")) {
      conf.setIfMissing("spark.driver.host", "127.0.0.1");
      conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
      if (!conf.contains("spark.authenticate.secret")) {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        conf.setIfMissing("spark.authenticate", "true");
        conf.set("spark.authenticate.secret", HexFormat.of().formatHex(secret));
      }
    } else if (!conf.getBoolean("spark.authenticate", false)
        || !conf.getBoolean("spark.network.crypto.enabled", false)) {
      System.err.println(
          "warning: spark.authenticate and spark.network.crypto.enabled are not both true: tasks,"
              + " and the gradient exchange's secret inside them, travel unencrypted (README,"
              + " 'Training on Spark securely')");
    }
  }

  private static String shares(int batch, int workers) {
    int small = batch / workers;
    return batch % workers == 0 ? Integer.toString(small) : small + "–" + (small + 1);
  }
}
