package org.anode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.anode.cli.experiment.Charts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each experiment command on tiny settings: the files it writes, checked. */
class ExperimentCommandsTest {
  @TempDir Path tmp;

  static void assertPng(Path png) throws Exception {
    BufferedImage img = ImageIO.read(png.toFile());
    assertTrue(img != null, png + " does not decode");
    assertEquals(Charts.WIDTH, img.getWidth(), png.toString());
    assertEquals(Charts.HEIGHT, img.getHeight(), png.toString());
  }

  static List<String[]> rows(Path csv) throws Exception {
    return Files.readAllLines(csv).stream().skip(1).map(l -> l.split(",")).toList();
  }

  static void assertFinite(String[] row, int from) {
    for (int i = from; i < row.length; i++) {
      if (row[i].isEmpty()) {
        continue; // does not apply to this row
      }
      double v = Double.parseDouble(row[i]);
      assertTrue(Double.isFinite(v), String.join(",", row));
    }
  }

  @Test
  void gradientErrorStudy() throws Exception {
    Path out = tmp.resolve("ge");
    assertEquals(
        0,
        Main.run(
            "experiment",
            "gradient-error",
            "--out",
            out.toString(),
            "--families",
            "resnet,sqnxt,tanh",
            "--solvers",
            "euler,rk2,alf",
            "--nt",
            "1,2,4"));
    List<String[]> rows = rows(out.resolve("gradient-error.csv"));
    assertEquals(3 * 3 * 3, rows.size());
    for (String[] r : rows) {
      assertFinite(r, 2);
      if (r[1].equals("alf")) {
        // The reversible method: the discrete gradient, z(0) rebuilt by the exact inverse.
        assertTrue(Double.parseDouble(r[7]) <= 1e-10, "reversible input " + String.join(",", r));
        assertTrue(Double.parseDouble(r[8]) <= 1e-10, "reversible params " + String.join(",", r));
        assertTrue(Double.parseDouble(r[9]) <= 1e-12, "z0 rebuilt " + String.join(",", r));
      } else {
        assertTrue(r[7].isEmpty() && r[8].isEmpty(), "no reversible method " + String.join(",", r));
      }
      assertTrue(Double.parseDouble(r[3]) <= 1e-12, "ANODE input error " + String.join(",", r));
      assertTrue(Double.parseDouble(r[4]) <= 1e-12, "ANODE parameter error " + String.join(",", r));
      if (r[0].equals("resnet")) {
        assertTrue(
            Double.parseDouble(r[5]) > 1e-3,
            "the adjoint's error on ReLU convs " + String.join(",", r));
      }
    }
    for (String f : List.of("resnet", "sqnxt", "tanh")) {
      assertPng(out.resolve("gradient-error-" + f + ".png"));
    }
  }

  @Test
  void bench() throws Exception {
    Path out = tmp.resolve("bench");
    assertEquals(
        0,
        Main.run(
            "bench",
            "--out",
            out.toString(),
            "--channels",
            "4",
            "--batch",
            "2",
            "--size",
            "8",
            "--nt",
            "2,4",
            "--backends",
            "nd4j",
            "--methods",
            "store-all,anode,revolve:2,adjoint",
            "--warmup",
            "0",
            "--warmup-seconds",
            "0",
            "--repeats",
            "1"));
    List<String[]> rows = rows(out.resolve("bench.csv"));
    assertEquals(2 * 4, rows.size());
    for (String[] r : rows) {
      assertFinite(r, 4);
    }
    // ANODE keeps the L block inputs plus one block's steps; store-all keeps every step.
    String[] storeAll = rows.get(4);
    String[] anode = rows.get(5);
    assertEquals("store-all", storeAll[3]);
    assertEquals("anode", anode[3]);
    assertEquals(storeAll[6], storeAll[8], "store-all prediction equals the measured bytes");
    assertEquals(anode[6], anode[8], "ANODE prediction equals the measured bytes");
    for (String[] r : List.of(storeAll, anode)) {
      assertTrue(
          Long.parseLong(r[7]) >= Long.parseLong(r[6]), "live bytes hold the saved bytes: " + r[3]);
    }
    assertTrue(Long.parseLong(anode[6]) < Long.parseLong(storeAll[6]));
    var json =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(out.resolve("bench.json").toFile());
    assertEquals(rows.size(), json.size());
    assertEquals("revolve:2", json.get(6).get("method").asText());
    assertEquals(Long.parseLong(anode[7]), json.get(5).get("peak_live_bytes").asLong());
    assertPng(out.resolve("bench-time.png"));
    assertPng(out.resolve("bench-memory.png"));
  }

  /**
   * {@code --reference}: the script gets the bench's configuration and its rows join the table,
   * with the ratio to its own store-all. A stand-in interpreter answers as the script does, so that
   * this runs where torch is not installed.
   */
  @Test
  void benchWithReference() throws Exception {
    Path args = tmp.resolve("args.txt");
    Path python = tmp.resolve("fake-python");
    Files.writeString(
        python,
        "#!/bin/sh\n"
            + "echo \"$@\" > '"
            + args
            + "'\n"
            + "echo torch,9.9\n"
            + "echo store-all,2.0,1048576,8.0,0.0\n"
            + "echo anode,3.0,1048576,8.0,8.0\n");
    assumeTrue(python.toFile().setExecutable(true), "cannot make a script executable here");
    Path out = tmp.resolve("bench-ref");
    assertEquals(
        0,
        Main.run(
            "bench",
            "--out",
            out.toString(),
            "--channels",
            "4",
            "--batch",
            "2",
            "--size",
            "8",
            "--nt",
            "4",
            "--backends",
            "nd4j",
            "--methods",
            "store-all,anode,adjoint",
            "--warmup",
            "0",
            "--warmup-seconds",
            "0",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--reference",
            python.toString()));
    String passed = Files.readString(args);
    assertTrue(passed.contains("--csv --threads 1 --blocks 3 --channels 4 --batch 2 --size 8"));
    assertTrue(
        passed.contains(
            "--nt 4 --warmup 0 --warmup-seconds 0.0 --repeats 1 --methods store-all,anode --model stack"
                + " --width"),
        passed);
    List<String[]> rows = rows(out.resolve("bench.csv"));
    assertEquals(3 + 2, rows.size());
    String[] ref = rows.get(4);
    assertEquals(List.of("pytorch 9.9", "euler", "4", "anode"), List.of(ref).subList(0, 4));
    assertEquals(3.0, Double.parseDouble(ref[4]));
    assertEquals(1.5, Double.parseDouble(ref[5]), 1e-12, "ratio to the reference's store-all");
    assertEquals("-1", ref[6], "saved bytes are not measured in the reference");
    assertPng(out.resolve("bench-time.png"));
  }

  @Test
  void trainingCurves() throws Exception {
    Path data = CifarTrainingTest.archive();
    assumeTrue(Files.exists(data), "the shared CIFAR-10 archive is not at " + data);
    Path out = tmp.resolve("curves");
    assertEquals(
        0,
        Main.run(
            "experiment",
            "training-curves",
            "--out",
            out.toString(),
            "--data",
            data.toString(),
            "--model",
            "sqnxt",
            "--solver",
            "rk2",
            "--nt",
            "1",
            "--width",
            "0.125",
            "--epochs",
            "2",
            "--train-limit",
            "400",
            "--test-limit",
            "200",
            "--batch",
            "50",
            "--backend",
            "nd4j"));
    List<String[]> rows = rows(out.resolve("training-curves.csv"));
    assertEquals(4, rows.size());
    for (String[] r : rows) {
      assertFinite(r, 1);
    }
    assertPng(out.resolve("training-loss.png"));
    assertPng(out.resolve("test-accuracy.png"));
  }
}
