package org.anode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.models.OdeResNet;
import org.anode.models.OdeSettings;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.ode.Stepping;
import org.anode.train.Checkpoint;
import org.anode.train.CheckpointLock;
import org.junit.jupiter.api.Test;

/**
 * The command line under faults and extreme values: divergence, non-finite checkpoints, resume and
 * overwrite, unwritable targets, bad options, concurrent runs on one checkpoint, and the memory a
 * step may use.
 */
class TrainingGuardsTest extends CommandLineFixture {
  /** A diverging run saves nothing non-finite and names the checkpoint it really wrote. */
  @Test
  void divergenceNeverSavesNonFiniteStateAndNamesTheRealLastCheckpoint() throws Exception {
    Path folder = cifar10Folder(4, 20);
    CommandRun r = run(train(folder, "--lr", "1e40", "--epochs", "3", "--train-limit", "20"));
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains("training stopped: epoch 1"), r.err());
    assertTrue(r.err().contains("this run wrote no checkpoint"), r.err());
    assertFalse(Files.exists(tmp.resolve("run.ckpt")), "no checkpoint of non-finite state");

    CommandRun bad = run(train(folder, "--lr", "-1"));
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains("--lr must be a positive finite number, got -1.0"), bad.err());
  }

  /** Eval of a model whose loss is not finite fails. */
  @Test
  void evalOfANonFiniteLossFails() throws Exception {
    Path folder = cifar10Folder(4, 20);
    Path ck = tmp.resolve("run.ckpt");
    assertEquals(0, run(train(folder)).code());
    Backend be = Backends.get("nd4j");
    try (TensorScope scope = TensorScope.open()) {
      Checkpoint c = Checkpoint.load(ck, be);
      Map<String, Tensor> model = new java.util.LinkedHashMap<>(c.model());
      for (var e : model.entrySet()) {
        if (e.getKey().endsWith("weight") && e.getValue().shape().rank() == 2) {
          e.setValue(be.mulScalar(e.getValue(), 3e37)); // finite weights, infinite logits
        }
      }
      new Checkpoint(c.epoch(), c.seed(), c.config(), model, c.optimizer(), c.counters()).save(ck);
    }
    CommandRun r =
        CommandRun.of(
            "eval",
            "--data",
            folder.toString(),
            "--backend",
            "nd4j",
            "--width",
            "0.125",
            "--batch",
            "20",
            "--checkpoint",
            ck.toString());
    assertEquals(3, r.code(), r.all());
    assertTrue(r.err().contains(ck + " is Infinity: the model is not usable"), r.err());
  }

  /** Resume semantics and the metrics file. */
  @Test
  void resumeAndOverwriteAreExplicitAndMetricsFollowTheCheckpoint() throws Exception {
    Path folder = cifar10Folder(4, 20);
    Path ck = tmp.resolve("run.ckpt");
    Path csv = tmp.resolve("metrics.csv");
    CommandRun missing = run(train(folder, "--resume"));
    assertEquals(1, missing.code());
    assertTrue(missing.err().contains("--resume: no checkpoint at " + ck), missing.err());

    assertEquals(0, run(train(folder)).code());
    CommandRun again = run(train(folder));
    assertEquals(1, again.code());
    assertTrue(again.err().contains(ck + " exists: --resume to continue"), again.err());

    CommandRun adam = run(train(folder, "--resume", "--epochs", "2", "--optimizer", "adam"));
    assertEquals(1, adam.code());
    assertTrue(
        adam.err().contains("was written with optimizer sgd, this run has optimizer adam"),
        adam.err());
    CommandRun wider = run(train(folder, "--resume", "--epochs", "2", "--width", "0.25"));
    assertEquals(1, wider.code());
    assertTrue(
        wider.err().contains("was written with width 0.125, this run has width 0.25"), wider.err());

    // A row of an epoch that was never checkpointed (a run killed after writing it) is dropped.
    List<String> lines = new ArrayList<>(Files.readAllLines(csv));
    String header = lines.get(0);
    assertEquals(
        "model,dataset,width,depths,dtype,method,solver,nt,optimizer,backend,"
            + "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,"
            + "peak_saved_bytes,peak_live_bytes",
        header);
    String stale = lines.get(1).replaceFirst(",1,0\\.05", ",2,0.05");
    Files.write(csv, List.of(header, lines.get(1), stale));

    CommandRun resumed = run(train(folder, "--resume", "--epochs", "2"));
    assertEquals(0, resumed.code(), resumed.all());
    List<String> after = Files.readAllLines(csv);
    assertEquals(3, after.size(), String.join("\n", after));
    assertTrue(after.get(1).contains(",1,0.05"), after.get(1));
    assertTrue(after.get(2).contains(",2,0.05"), after.get(2));
    assertFalse(after.get(2).equals(stale), "the stale row was replaced");

    CommandRun done = run(train(folder, "--resume", "--epochs", "2"));
    assertEquals(0, done.code());
    assertTrue(
        done.out().contains("already holds 2 epochs (--epochs 2): nothing to do"), done.out());
    assertEquals(after, Files.readAllLines(csv));
  }

  /** Unwritable checkpoint and metrics targets are found before training, named. */
  @Test
  void unwritableTargetsAreReportedWithTheirPath() throws Exception {
    Path folder = cifar10Folder(4, 20);
    Path file = tmp.resolve("a-file");
    Files.writeString(file, "x");
    List<String> args = train(folder);
    args.set(args.indexOf("--checkpoint") + 1, file.resolve("run.ckpt").toString());
    CommandRun r = run(args);
    assertEquals(1, r.code());
    assertTrue(r.err().contains(file.resolve("run.ckpt").toString()), r.err());
    assertFalse(r.out().contains("epoch  lr"), "stopped before training");

    if (Files.exists(Path.of("/dev/full"))) {
      // A device is not a metrics file: outputs are regular files (RunFiles).
      List<String> full = train(folder);
      full.set(full.indexOf("--metrics") + 1, "/dev/full");
      CommandRun f = run(full);
      assertEquals(1, f.code());
      assertTrue(f.err().contains("--metrics /dev/full is not a regular file"), f.err());
    }
    Path readOnly = Files.createDirectories(tmp.resolve("read-only"));
    if (readOnly.toFile().setWritable(false) && !Files.isWritable(readOnly)) {
      List<String> ro = train(folder);
      ro.set(ro.indexOf("--metrics") + 1, readOnly.resolve("m.csv").toString());
      CommandRun f = run(ro);
      assertEquals(1, f.code());
      assertTrue(f.err().contains("m.csv: cannot write the metrics file"), f.err());
      readOnly.toFile().setWritable(true);
    }
  }

  /** Every numeric option is checked and the error names it. */
  @Test
  void badOptionsNameTheOptionAndTheRange() throws Exception {
    Path folder = cifar10Folder(1, 1);
    String[][] cases = {
      {"--epochs", "0", "--epochs must be at least 1, got 0"},
      {"--epochs", "-3", "--epochs must be at least 1, got -3"},
      {"--width", "0", "--width must be a positive finite number, got 0.0"},
      {"--width", "-1", "--width must be a positive finite number, got -1.0"},
      {"--threads", "-4", "--threads must be at least 0, got -4"},
      {"--train-limit", "-5", "--train-limit must be at least 0, got -5"},
      {"--test-limit", "-1", "--test-limit must be at least 0, got -1"},
      {"--batch", "0", "--batch must be at least 1, got 0"},
      {"--nt", "0", "--nt must be in [1, 1000], got 0"},
      {"--momentum", "1.5", "--momentum must be in [0.0, 1.0), got 1.5"},
      {"--weight-decay", "-1", "--weight-decay must be a finite number ≥ 0, got -1.0"},
      {"--lr", "NaN", "--lr must be a positive finite number, got NaN"},
      {"--depths", "a,b,c,d", "--depths needs 4 comma-separated whole numbers ≥ 1"},
      {"--depths", "1,1,1", "--depths needs 4 comma-separated whole numbers ≥ 1"},
    };
    for (String[] c : cases) {
      CommandRun r = run(train(folder, c[0], c[1]));
      assertEquals(1, r.code(), c[0] + " " + c[1]);
      assertTrue(r.err().contains(c[2]), c[0] + " " + c[1] + ": " + r.err());
    }
    CommandRun help = CommandRun.of("eval", "--help");
    assertTrue(help.out().contains("Compute in float64"), help.out());
  }

  /** A second run on the same checkpoint stops at once. */
  @Test
  void aSecondRunOnTheSameCheckpointStopsAtOnce() throws Exception {
    Path folder = cifar10Folder(4, 20);
    Path ck = tmp.resolve("run.ckpt");
    try (CheckpointLock held = CheckpointLock.acquire(ck)) {
      CommandRun r = run(train(folder));
      assertEquals(1, r.code());
      assertTrue(r.err().contains(ck + ": in use by another anode run"), r.err());
      assertFalse(r.out().contains("epoch  lr"));
    }
    assertEquals(0, run(train(folder)).code(), "the lock is released with its holder");
  }

  /** A step that cannot fit stops at once; one that fits another way takes it. */
  @Test
  void memoryIsPredictedBeforeTraining() throws Exception {
    Path folder = cifar10Folder(4, 20);
    CommandRun tiny = run(train(folder, "--memory", "1MiB"));
    assertEquals(1, tiny.code(), tiny.all());
    assertTrue(
        tiny.err().contains("not enough memory: a training step needs more than "), tiny.err());
    assertTrue(tiny.err().contains("1 MiB available; lower --batch or --width"), tiny.err());
    assertFalse(tiny.out().contains("epoch  lr"), "stopped before training");

    Backend be = Backends.get("nd4j");
    long storeAll;
    long anode;
    try (TensorScope scope = TensorScope.open()) {
      Module net =
          new OdeResNet(
              new ParameterFactory(be, DType.FLOAT32, 1),
              10,
              0.125,
              new int[] {1, 1, 1, 1},
              new OdeSettings(
                  Choices.solver("euler"), Stepping.fixed(8), 1.0, Choices.method("anode")));
      storeAll = MemoryCheck.decide(net, be, DType.FLOAT32, 20, "store-all", 1, -1).predicted();
      anode = MemoryCheck.decide(net, be, DType.FLOAT32, 20, "anode", 1, -1).predicted();
      assertTrue(anode < storeAll, anode + " vs " + storeAll);
      long between = (anode + storeAll) / 2;
      assertEquals(
          "anode",
          MemoryCheck.decide(net, be, DType.FLOAT32, 20, "store-all", 1, between).method());
      anode = between;
    }
    CommandRun switched =
        run(train(folder, "--nt", "8", "--method", "store-all", "--memory", Long.toString(anode)));
    assertEquals(0, switched.code(), switched.all());
    assertTrue(switched.out().contains("memory: store-all would need ~"), switched.out());
    assertTrue(switched.out().contains("; using anode (~"), switched.out());
    assertTrue(switched.out().contains("method anode"), switched.out());
    assertEquals(2L << 30, MemoryCheck.parseSize("--memory", "2GiB"));
    assertEquals(512L << 20, MemoryCheck.parseSize("--memory", "512m"));
    assertEquals(1000, MemoryCheck.parseSize("--memory", "1000"));
    CommandRun bad = run(train(folder, "--memory", "lots"));
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains("--memory must be a size such as 2GiB"), bad.err());
  }

  /**
   * A time-budgeted run plans its steps from the measured pace, takes them, evaluates once and
   * writes the checkpoint and one metrics row; a budget cannot be combined with --resume.
   */
  @Test
  void aTimeBudgetPlansTheStepsThenEvaluatesOnceAndSaves() throws Exception {
    Path folder = cifar10Folder(8, 20);
    CommandRun r = run(train(folder, "--time-budget", "15s", "--batch", "4"));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("plan: "), r.out());
    assertTrue(r.out().contains("done: "), r.out());
    assertTrue(r.out().contains("test accuracy"), r.out());
    assertTrue(Files.exists(tmp.resolve("run.ckpt")));
    assertEquals(2, Files.readAllLines(tmp.resolve("metrics.csv")).size(), "header and one row");
    CommandRun bad = run(train(folder, "--time-budget", "2m", "--resume"));
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains("--time-budget plans a whole new run"), bad.err());
    CommandRun unparsable = run(train(folder, "--time-budget", "soon", "--overwrite"));
    assertEquals(1, unparsable.code());
    assertTrue(unparsable.err().contains("--time-budget must be a duration"), unparsable.err());
  }
}
