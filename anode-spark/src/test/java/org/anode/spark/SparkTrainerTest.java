package org.anode.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.data.DataLoader;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Module;
import org.anode.train.Checkpoint;
import org.anode.train.EpochMetrics;
import org.anode.train.Evaluation;
import org.anode.train.LearningRateSchedule;
import org.anode.train.NonFiniteException;
import org.anode.train.Optimizer;
import org.anode.train.TrainingStep;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Synchronous data-parallel training on a local Spark (tasks as threads of this JVM, so the backend
 * is used from several threads at once): the parameters after an epoch equal single-process
 * training on the same global batches, for ANODE and store-all, with an even and an uneven split;
 * and a worker that dies mid-epoch costs a restart from the last checkpoint, not a different
 * result.
 */
class SparkTrainerTest {
  static final double LR = 0.05;
  static JavaSparkContext spark;
  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    spark =
        new JavaSparkContext(
            new SparkConf()
                .setMaster("local[3]")
                .setAppName("anode-spark-test")
                .set("spark.ui.enabled", "false")
                .set("spark.driver.host", "127.0.0.1")
                .set("spark.driver.bindAddress", "127.0.0.1"));
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static DistributedJob job(
      TinyReplica replica, int workers, Path checkpoint, DistributedJob.InjectedFailure f) {
    return job(replica, workers, checkpoint, f, Map.of("model", "tiny"));
  }

  static DistributedJob job(
      TinyReplica replica,
      int workers,
      Path checkpoint,
      DistributedJob.InjectedFailure f,
      Map<String, String> run) {
    return new DistributedJob(
        replica,
        "nd4j",
        1,
        DType.FLOAT64,
        replica.seed(),
        workers,
        16,
        checkpoint.toString(),
        run,
        f);
  }

  /** One process, one epoch over the same global batches in the same order. */
  static Map<String, double[]> singleProcess(TinyReplica replica, int epochs) {
    Backend be = Backends.get("nd4j");
    Map<String, double[]> out = new LinkedHashMap<>();
    try (Module model = replica.model(be, DType.FLOAT64);
        Optimizer opt = replica.optimizer()) {
      DataLoader loader =
          new DataLoader(
              replica.trainingData(), 16, true, replica.trainingAugmentation(), replica.seed());
      TrainingStep step = new TrainingStep(model, opt);
      for (int epoch = 0; epoch < epochs; epoch++) {
        int[] order = loader.order(epoch);
        for (int from = 0; from < order.length; from += 16) {
          DataLoader.Batch b =
              loader.assemble(epoch, order, from, Math.min(from + 16, order.length));
          step.run(
              () -> Evaluation.images(be, DType.FLOAT64, b, loader),
              logits -> CrossEntropyLoss.of(logits, b.labels(), replica.labelSmoothing()),
              LR,
              "reference",
              new TrainingStep.Checks() {});
        }
      }
      model.stateDict().forEach((k, v) -> out.put(k, v.toDoubleArray()));
    }
    return out;
  }

  static Map<String, double[]> saved(Path checkpoint) throws Exception {
    Map<String, double[]> out = new LinkedHashMap<>();
    try (TensorScope scope = TensorScope.open()) {
      Checkpoint c = Checkpoint.load(checkpoint, Backends.get("nd4j"));
      for (Map.Entry<String, Tensor> e : c.model().entrySet()) {
        out.put(e.getKey(), e.getValue().toDoubleArray());
      }
    }
    return out;
  }

  static double maxError(Map<String, double[]> a, Map<String, double[]> b) {
    assertEquals(a.keySet(), b.keySet());
    double worst = 0;
    for (String k : a.keySet()) {
      worst = Math.max(worst, GradientCheck.relativeError(a.get(k), b.get(k)));
    }
    return worst;
  }

  @ParameterizedTest(name = "{0}, {1} workers, {2} images, label smoothing {3}")
  @CsvSource({
    "anode, 2, 48, 0",
    "store-all, 2, 48, 0",
    "anode, 3, 40, 0",
    "store-all, 3, 40, 0",
    "anode, 2, 48, 0.1"
  })
  void anEpochEqualsSingleProcessTraining(
      String method, int workers, int images, double labelSmoothing) throws Exception {
    TinyReplica replica = new TinyReplica(method, images, false, 11, labelSmoothing);
    Path ckpt = tmp.resolve("run.ckpt");
    List<SparkTrainer.Epoch> epochs =
        new SparkTrainer(
                spark, job(replica, workers, ckpt, null), LearningRateSchedule.constant(LR))
            .fit(1, e -> {});
    assertEquals(1, epochs.size());
    assertTrue(epochs.get(0).bytesPerStep() > 0);
    double err = maxError(saved(ckpt), singleProcess(replica, 1));
    System.out.printf(
        "%s, %d workers, %d images: parameters vs one process, relative error %.3g%n",
        method, workers, images, err);
    assertTrue(err <= 1e-12, method + ", " + workers + " workers: relative error " + err);
  }

  @Test
  void aWorkerThatDiesMidEpochCostsARestartNotADifferentResult() throws Exception {
    TinyReplica replica = new TinyReplica("anode", 48, true, 5);
    Path clean = tmp.resolve("clean.ckpt");
    List<SparkTrainer.Epoch> undisturbed =
        new SparkTrainer(spark, job(replica, 2, clean, null), LearningRateSchedule.constant(LR))
            .fit(2, e -> {});
    Path failing = tmp.resolve("failing.ckpt");
    Path marker = tmp.resolve("failed-once");
    List<Integer> reported = new ArrayList<>();
    new SparkTrainer(
            spark,
            job(
                replica,
                2,
                failing,
                new DistributedJob.InjectedFailure(1, 1, 1, marker.toString())),
            LearningRateSchedule.constant(LR))
        .fit(
            2,
            e -> {
              reported.add(e.metrics().epoch());
              if (e.metrics().epoch() == 2) {
                // The restarted epoch's figures, not only its parameters, are the undisturbed ones.
                EpochMetrics m = undisturbed.get(1).metrics();
                assertEquals(m.trainLoss(), e.metrics().trainLoss(), "train loss");
                assertEquals(m.trainAccuracy(), e.metrics().trainAccuracy(), "train accuracy");
                assertEquals(m.testLoss(), e.metrics().testLoss(), "test loss");
              }
            });
    assertTrue(Files.exists(marker), "the failure was injected");
    assertEquals(List.of(1, 2), reported);
    double err = maxError(saved(failing), saved(clean));
    System.out.printf("restarted after a failure vs uninterrupted: relative error %.3g%n", err);
    assertEquals(0.0, err, "same final parameters");
  }

  @Test
  void aFreshRunLeavesTheOldCheckpointUntilItsFirstEpochIsSaved() throws Exception {
    TinyReplica replica = new TinyReplica("anode", 32, false, 7);
    Path ckpt = tmp.resolve("kept.ckpt");
    new SparkTrainer(spark, job(replica, 2, ckpt, null), LearningRateSchedule.constant(LR))
        .fit(2, e -> {});
    byte[] before = Files.readAllBytes(ckpt);
    Path marker = tmp.resolve("fresh-failed-once");
    SparkTrainer fresh =
        new SparkTrainer(
                spark,
                job(
                    replica,
                    2,
                    ckpt,
                    new DistributedJob.InjectedFailure(0, 0, 1, marker.toString())),
                LearningRateSchedule.constant(LR))
            .startFresh()
            .maxAttempts(1);
    assertEquals(0, fresh.firstEpoch());
    assertThrows(IOException.class, () -> fresh.fit(1, e -> {}));
    assertTrue(Files.exists(marker), "the failure was injected");
    assertArrayEquals(before, Files.readAllBytes(ckpt), "the old checkpoint, untouched");
  }

  @Test
  void divergenceStopsWithoutRetryAndKeepsTheLastGoodCheckpoint() throws Exception {
    TinyReplica replica = new TinyReplica("anode", 32, false, 9);
    Path ckpt = tmp.resolve("diverging.ckpt");
    new SparkTrainer(spark, job(replica, 2, ckpt, null), LearningRateSchedule.constant(LR))
        .fit(1, e -> {});
    byte[] before = Files.readAllBytes(ckpt);
    SparkTrainer diverging =
        new SparkTrainer(spark, job(replica, 2, ckpt, null), LearningRateSchedule.constant(1e300));
    NonFiniteException e = assertThrows(NonFiniteException.class, () -> diverging.fit(3, m -> {}));
    System.out.println("diverging run stopped: " + e.getMessage());
    assertArrayEquals(before, Files.readAllBytes(ckpt), "the last good checkpoint, untouched");
  }

  @Test
  void aResumeOfAnotherOptimizerIsRefusedBeforeAnyTask() throws Exception {
    TinyReplica replica = new TinyReplica("anode", 32, false, 13);
    Path ckpt = tmp.resolve("sgd.ckpt");
    new SparkTrainer(
            spark,
            job(replica, 2, ckpt, null, Map.of("model", "tiny", "optimizer", "sgd")),
            LearningRateSchedule.constant(LR))
        .fit(1, e -> {});
    SparkTrainer adam =
        new SparkTrainer(
            spark,
            job(replica, 2, ckpt, null, Map.of("model", "tiny", "optimizer", "adam")),
            LearningRateSchedule.constant(LR));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, adam::firstEpoch);
    assertTrue(e.getMessage().contains("optimizer sgd"), e.getMessage());
  }
}
