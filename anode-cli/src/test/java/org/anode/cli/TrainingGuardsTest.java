package org.anode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
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
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line under bad input, faults and extreme values, on small real files: the official
 * CIFAR binary layout (written here in its record format), image folders, checkpoints and metrics
 * files. Each test names the item of issue 16 it holds to.
 */
class TrainingGuardsTest {
  @TempDir Path tmp;

  // ---- data in the official binary layout ------------------------------------------------------

  /** {@code n} records of {@code labelBytes} label bytes and 3,072 pixels; labels cycle. */
  static byte[] records(int n, int labelBytes, int classes, int salt) {
    byte[] b = new byte[n * (labelBytes + 3072)];
    for (int r = 0; r < n; r++) {
      int base = r * (labelBytes + 3072);
      for (int k = 0; k < labelBytes; k++) {
        b[base + k] = (byte) ((r + k) % classes);
      }
      for (int p = 0; p < 3072; p++) {
        b[base + labelBytes + p] = (byte) ((p * 7 + r * 13 + salt) & 0xFF);
      }
    }
    return b;
  }

  /** CIFAR-10's binary files: 5 × {@code perBatch} training and {@code test} test records. */
  Path cifar10Folder(int perBatch, int test) throws IOException {
    Path dir = tmp.resolve("c10/cifar-10-batches-bin");
    Files.createDirectories(dir);
    for (int i = 1; i <= 5; i++) {
      Files.write(dir.resolve("data_batch_" + i + ".bin"), records(perBatch, 1, 10, i));
    }
    Files.write(dir.resolve("test_batch.bin"), records(test, 1, 10, 9));
    return tmp.resolve("c10");
  }

  static Path tarGz(Path folder, Path archive) throws IOException {
    try (OutputStream f = Files.newOutputStream(archive);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(f));
        var walk = Files.walk(folder)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (Files.isRegularFile(p)) {
          TarArchiveEntry e =
              new TarArchiveEntry(p.toFile(), folder.relativize(p).toString().replace('\\', '/'));
          tar.putArchiveEntry(e);
          Files.copy(p, tar);
          tar.closeArchiveEntry();
        }
      }
    }
    return archive;
  }

  List<String> train(Path data, String... more) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "train",
                "--data",
                data.toString(),
                "--backend",
                "nd4j",
                "--width",
                "0.125",
                "--epochs",
                "1",
                "--batch",
                "20",
                "--lr",
                "0.05",
                "--schedule",
                "constant",
                "--checkpoint",
                tmp.resolve("run.ckpt").toString(),
                "--metrics",
                tmp.resolve("metrics.csv").toString(),
                "--no-progress"));
    for (int i = 0; i < more.length; i++) {
      int at = a.indexOf(more[i]);
      boolean flag = i + 1 >= more.length || more[i + 1].startsWith("--");
      if (at >= 0 && !flag) {
        a.set(at + 1, more[++i]); // replaces the default above
      } else {
        a.add(more[i]);
      }
    }
    return a;
  }

  CommandRun run(List<String> args) {
    return CommandRun.of(args.toArray(new String[0]));
  }

  /** Item 0: the official binaries, folder or archive, CIFAR-10 or -100, all or a limit. */
  @Test
  void officialBinariesTrainOnEveryImageOrTheLimit() throws Exception {
    Path folder = cifar10Folder(8, 20);
    CommandRun all = run(train(folder, "--overwrite"));
    assertEquals(0, all.code(), all.all());
    assertTrue(all.out().contains("data: 40 training and 20 test images"), all.out());
    Path archive = tarGz(folder, tmp.resolve("cifar-10-binary.tar.gz"));
    CommandRun limited =
        run(train(archive, "--overwrite", "--train-limit", "30", "--test-limit", "10"));
    assertEquals(0, limited.code(), limited.all());
    assertTrue(limited.out().contains("data: 30 training and 10 test images"), limited.out());
    CommandRun viaArchive = run(train(archive, "--overwrite"));
    assertTrue(viaArchive.out().contains("data: 40 training and 20 test images"), viaArchive.out());

    Path c100 = tmp.resolve("c100/cifar-100-binary");
    Files.createDirectories(c100);
    Files.write(c100.resolve("train.bin"), records(200, 2, 100, 1));
    Files.write(c100.resolve("test.bin"), records(100, 2, 100, 2));
    CommandRun hundred = run(train(tmp.resolve("c100"), "--dataset", "cifar100", "--overwrite"));
    assertEquals(0, hundred.code(), hundred.all());
    assertTrue(hundred.out().contains("data: 200 training and 100 test images"), hundred.out());
    Path archive100 = tarGz(tmp.resolve("c100"), tmp.resolve("cifar-100-binary.tar.gz"));
    CommandRun hundredLimited =
        run(train(archive100, "--dataset", "cifar100", "--overwrite", "--train-limit", "100"));
    assertTrue(
        hundredLimited.out().contains("data: 100 training and 100 test images"),
        hundredLimited.out());
  }

  /** Item 0: zero images is an error, not a run of NaN epochs. */
  @Test
  void emptyDataIsAnError() throws Exception {
    Path folder = cifar10Folder(0, 0);
    CommandRun r = run(train(folder));
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("holds no images"), r.err());
    assertFalse(Files.exists(tmp.resolve("run.ckpt")));
  }

  /** Item 3: a diverging run saves nothing non-finite and says that it wrote no checkpoint. */
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

  /** Item 3: eval of a model whose loss is not finite fails. */
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

  /** Items 4 and 5: resume semantics and the metrics file. */
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

  /** Item 6: one class index for both splits, and the class count of --dataset. */
  @Test
  void classesMustAgreeAcrossSplitsAndWithTheDataset() throws Exception {
    Path root = tmp.resolve("folders");
    List<String> ten = List.of("c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9");
    for (String c : ten) {
      image(root.resolve("train/" + c + "/0001.png"));
      image(root.resolve("test/" + (c.equals("c0") ? "cat" : c) + "/0001.png"));
    }
    CommandRun r = run(train(root));
    assertEquals(1, r.code());
    assertTrue(
        r.err().contains("test class 'cat' is not among the training classes [c0,"), r.err());

    CommandRun hundred = run(train(cifar10Folder(4, 20), "--dataset", "cifar100"));
    assertEquals(1, hundred.code());
    assertTrue(
        hundred.err().contains("does not contain [train.bin]")
            || hundred.err().contains("holds neither"),
        hundred.err());

    Path three = tmp.resolve("three");
    for (String c : List.of("a", "b", "c")) {
      image(three.resolve("train/" + c + "/0001.png"));
      image(three.resolve("test/" + c + "/0001.png"));
    }
    CommandRun r3 = run(train(three));
    assertEquals(1, r3.code());
    assertTrue(
        r3.err().contains("--dataset cifar10 has 10 classes, but " + three + " holds 3 [a, b, c]"),
        r3.err());
  }

  /** Item 6: a truncated JPEG, a damaged archive and a missing path name the file. */
  @Test
  void badFilesAreNamed() throws Exception {
    Path root = tmp.resolve("jpegs");
    for (String c : List.of("a", "b")) {
      for (String split : List.of("train", "test")) {
        Path p = root.resolve(split + "/" + c + "/0001.jpg");
        Files.createDirectories(p.getParent());
        ImageIO.write(picture(), "jpg", p.toFile());
      }
    }
    Path cut = root.resolve("train/b/0001.jpg");
    byte[] whole = Files.readAllBytes(cut);
    Files.write(cut, Arrays.copyOf(whole, whole.length * 9 / 10));
    CommandRun r = run(train(root));
    assertEquals(1, r.code());
    assertTrue(r.err().contains("train/b/0001.jpg: corrupt image"), r.err());

    Path damaged = tmp.resolve("cifar10.tar.gz");
    byte[] gz = Files.readAllBytes(tarGz(cifar10Folder(4, 4), tmp.resolve("ok.tar.gz")));
    Files.write(damaged, Arrays.copyOf(gz, gz.length / 2));
    CommandRun d = run(train(damaged));
    assertEquals(1, d.code());
    assertTrue(d.err().contains(damaged + ": not a readable .tar.gz archive"), d.err());

    Path random = tmp.resolve("random.tar.gz");
    Files.write(random, "not gzip at all".getBytes(StandardCharsets.UTF_8));
    CommandRun g = run(train(random));
    assertEquals(1, g.code());
    assertTrue(g.err().contains(random + ": not a readable .tar.gz archive"), g.err());

    Path nowhere = tmp.resolve("nowhere/cifar10-jpg.tar.gz");
    CommandRun n = run(train(nowhere));
    assertEquals(1, n.code());
    assertTrue(n.err().contains(nowhere + ": no such file or directory"), n.err());
    assertFalse(Files.exists(nowhere.getParent()), "nothing is created for a missing --data");
  }

  /** Item 8: unwritable checkpoint targets are found before training; a full metrics disk too. */
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

    if (Files.isWritable(Path.of("/dev/full"))) {
      List<String> full = train(folder);
      full.set(full.indexOf("--metrics") + 1, "/dev/full");
      CommandRun f = run(full);
      assertEquals(1, f.code());
      assertTrue(f.err().contains("/dev/full: cannot write the metrics file"), f.err());
    }
  }

  /** Item 9: every numeric option is checked and the error names it. */
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
      {"--nt", "0", "--nt must be at least 1, got 0"},
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

  /** Item 10: a second run on the same checkpoint stops at once. */
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

  /** Item 11: a step that cannot fit stops at once; one that fits another way takes it. */
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

  private static BufferedImage picture() {
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 32; y++) {
      for (int x = 0; x < 32; x++) {
        img.setRGB(x, y, (x * 8) << 16 | (y * 8) << 8 | ((x * y) & 0xFF));
      }
    }
    return img;
  }

  private static void image(Path p) throws IOException {
    Files.createDirectories(p.getParent());
    ImageIO.write(picture(), "png", p.toFile());
  }
}
