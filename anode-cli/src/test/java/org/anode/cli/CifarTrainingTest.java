package org.anode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real command on real data: a small ODE-ResNet (width 1/8, ANODE, Euler, N_t = 2) trained for
 * one epoch on 5,000 CIFAR-10 images from the shared JPEG archive must beat chance (10%) on 1,000
 * held-out images by five standard deviations of a guessing model's accuracy.
 */
class CifarTrainingTest {
  @TempDir Path tmp;

  static Path archive() {
    return Path.of(
        System.getProperty("anode.sharedData", "../../shared/data"), "cifar10-jpg.tar.gz");
  }

  @Test
  void oneEpochOnRealCifar10BeatsChance() throws Exception {
    Path data = archive();
    assumeTrue(Files.exists(data), "the shared CIFAR-10 archive is not at " + data);
    Path metrics = tmp.resolve("metrics.csv");
    CommandRun run =
        CommandRun.of(
            "train",
            "--data",
            data.toString(),
            "--backend",
            "nd4j",
            "--width",
            "0.125",
            "--train-limit",
            "5000",
            "--test-limit",
            "1000",
            "--epochs",
            "1",
            "--batch",
            "32",
            "--lr",
            "0.05",
            "--schedule",
            "constant",
            "--checkpoint",
            tmp.resolve("run.ckpt").toString(),
            "--metrics",
            metrics.toString(),
            "--no-progress");
    String printed = run.out();
    assertEquals(0, run.code(), printed);
    assertTrue(printed.contains("176,402 parameters"), printed);
    assertTrue(printed.contains("5,000 training and 1,000 test images"), printed);
    List<String> lines = Files.readAllLines(metrics);
    assertEquals(2, lines.size());
    List<String> header = List.of(lines.get(0).split(","));
    String[] row = lines.get(1).split(",");
    assertEquals("anode", row[header.indexOf("method")]);
    assertEquals("euler", row[header.indexOf("solver")]);
    assertEquals("2", row[header.indexOf("nt")]);
    double testAccuracy = Double.parseDouble(row[header.indexOf("test_acc")]);
    // A model that learned nothing is right on a balanced 1,000-image sample with probability
    // 0.1 per image: its accuracy has mean 0.1 and standard deviation √(0.1·0.9/1000) = 0.0095,
    // so 15% or more happens by chance with probability below 1e-7 (5.3 σ). A step that does not
    // learn (zero or wrong-signed gradients, a broken update) stays near 10% and fails here.
    double sigma = Math.sqrt(0.1 * 0.9 / 1000);
    assertTrue(
        testAccuracy > 0.1 + 5 * sigma, "test accuracy " + testAccuracy + " after one epoch");
    assertTrue(Files.exists(tmp.resolve("run.ckpt")));
  }

  @Test
  void infoListsTheBackends() {
    CommandRun info = CommandRun.of("info");
    assertEquals(0, info.code());
    String s = info.out();
    assertTrue(s.contains("nd4j (rank 100, available)"), s);
    assertTrue(s.contains("tensorflow (rank 90, available)"), s);
    assertTrue(s.contains("djl (rank 80, available)"), s);
    assertTrue(s.contains("default: nd4j"), s);
    // Each backend says what its float32 convolutions run on here.
    assertTrue(s.contains("float32 convolutions: oneDNN") || s.contains("libnd4j's kernels"), s);
    assertTrue(s.contains("TensorFlow 2."), s);
    assertTrue(s.contains("libtorch 2."), s);
    assertEquals(2, s.split("float32 convolutions: ", -1).length - 1, s);
  }

  @Test
  void badOptionsAreReportedNotThrown() {
    assertEquals(
        1, Main.run("train", "--method", "magic", "--data", tmp.toString(), "--no-progress"));
  }
}
