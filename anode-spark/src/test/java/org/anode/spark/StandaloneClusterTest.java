package org.anode.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.anode.api.DType;
import org.anode.train.LearningRateSchedule;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Spark standalone cluster on 127.0.0.1: a master and two workers, each a JVM of its own
 * started here from the Spark jars on the test class path, each worker launching its executor as a
 * further JVM. Two epochs of data-parallel training on it end with the same parameters as the same
 * two epochs on {@code local[2]}, within round-off (the same sums in the same order).
 */
class StandaloneClusterTest {
  @TempDir Path tmp;

  @Test
  void trainsOnAMasterAndTwoWorkersInJvmsOfTheirOwn() throws Exception {
    Path sparkHome = sparkHome();
    int port = freePort();
    List<Process> daemons = new ArrayList<>();
    try {
      daemons.add(
          launch(
              sparkHome,
              "master",
              "org.apache.spark.deploy.master.Master",
              "--host",
              "127.0.0.1",
              "--port",
              Integer.toString(port),
              "--webui-port",
              "0"));
      String master = "spark://127.0.0.1:" + port;
      for (int w = 0; w < 2; w++) {
        daemons.add(
            launch(
                sparkHome,
                "worker" + w,
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "1536m",
                "--webui-port",
                "0",
                "--work-dir",
                tmp.resolve("work" + w).toString(),
                master));
      }
      TinyReplica replica = new TinyReplica("anode", 48, true, 3);
      Path onCluster = tmp.resolve("cluster.ckpt");
      SparkConf conf =
          new SparkConf()
              .setMaster(master)
              .setAppName("anode-standalone-test")
              .set("spark.ui.enabled", "false")
              .set("spark.driver.host", "127.0.0.1")
              .set("spark.driver.bindAddress", "127.0.0.1")
              .set("spark.executor.cores", "1")
              .set("spark.cores.max", "2")
              .set("spark.executor.memory", "1g")
              .set("spark.executor.extraJavaOptions", moduleOptions() + " -Danode.threads=1");
      List<SparkTrainer.Epoch> epochs;
      try (JavaSparkContext spark = new JavaSparkContext(conf)) {
        waitForExecutors(spark, 2);
        epochs =
            new SparkTrainer(spark, job(replica, onCluster), LearningRateSchedule.constant(0.05))
                .fit(2, e -> {});
      }
      assertEquals(2, epochs.size());
      Path local = tmp.resolve("local.ckpt");
      try (JavaSparkContext spark =
          new JavaSparkContext(
              new SparkConf()
                  .setMaster("local[2]")
                  .setAppName("anode-local-reference")
                  .set("spark.ui.enabled", "false")
                  .set("spark.driver.host", "127.0.0.1")
                  .set("spark.driver.bindAddress", "127.0.0.1"))) {
        new SparkTrainer(spark, job(replica, local), LearningRateSchedule.constant(0.05))
            .fit(2, e -> {});
      }
      double err =
          SparkTrainerTest.maxError(
              SparkTrainerTest.saved(onCluster), SparkTrainerTest.saved(local));
      System.out.printf("standalone cluster vs local[2], 2 epochs: relative error %.3g%n", err);
      assertTrue(err <= 1e-12, "cluster vs local: " + err);
    } finally {
      for (Process p : daemons) {
        p.destroy();
      }
      for (Process p : daemons) {
        p.waitFor();
      }
    }
  }

  private static DistributedJob job(TinyReplica replica, Path checkpoint) {
    return new DistributedJob(
        replica,
        "nd4j",
        1,
        DType.FLOAT64,
        replica.seed(),
        2,
        16,
        checkpoint.toString(),
        Map.of("model", "tiny"),
        null);
  }

  /** Blocks until {@code n} executors have registered (the driver counts itself too). */
  private static void waitForExecutors(JavaSparkContext spark, int n) throws InterruptedException {
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (spark.sc().getExecutorMemoryStatus().size() < n + 1) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "only "
                + (spark.sc().getExecutorMemoryStatus().size() - 1)
                + " executors registered in 120 s");
      }
      Thread.sleep(200);
    }
  }

  /**
   * A Spark home as the standalone scripts expect it: {@code jars/} holding every jar of the test
   * class path, and this module's classes (main and test) packed as jars beside them, so that the
   * workers' executors load anode, its backends and the test's replica.
   */
  private Path sparkHome() throws IOException {
    Path home = tmp.resolve("spark-home");
    Path jars = Files.createDirectories(home.resolve("jars"));
    String cp =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    int k = 0;
    for (String entry : cp.split(File.pathSeparator)) {
      Path p = Path.of(entry);
      if (Files.isDirectory(p)) {
        jar(p, jars.resolve("classes-" + k++ + ".jar"));
      } else if (entry.endsWith(".jar") && Files.exists(p)) {
        Path link = jars.resolve(k++ + "-" + p.getFileName());
        Files.createSymbolicLink(link, p.toAbsolutePath());
      }
    }
    return home;
  }

  private static void jar(Path dir, Path jar) throws IOException {
    try (OutputStream f = Files.newOutputStream(jar);
        JarOutputStream out = new JarOutputStream(f);
        var walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (Files.isRegularFile(p)) {
          out.putNextEntry(new JarEntry(dir.relativize(p).toString().replace('\\', '/')));
          Files.copy(p, out);
          out.closeEntry();
        }
      }
    }
  }

  private Process launch(Path sparkHome, String name, String mainClass, String... args)
      throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    cmd.addAll(List.of(moduleOptions().split(" ")));
    cmd.add("-cp");
    cmd.add(sparkHome.resolve("jars") + File.separator + "*");
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("SPARK_HOME", sparkHome.toString());
    pb.environment().put("SPARK_SCALA_VERSION", "2.13");
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.redirectErrorStream(true);
    pb.redirectOutput(tmp.resolve(name + ".log").toFile());
    return pb.start();
  }

  /**
   * The --add-opens options that Spark needs on Java 17: the build's {@code spark.java.options}.
   */
  static String moduleOptions() {
    String options = System.getProperty("spark.java.options");
    if (options == null || options.isBlank()) {
      throw new IllegalStateException(
          "spark.java.options is not set (surefire passes it from pom.xml)");
    }
    return options.trim();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
