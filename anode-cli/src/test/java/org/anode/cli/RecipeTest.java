package org.anode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** {@code --recipe}, {@code --holdout} and the time-to-accuracy experiment, on tiny data. */
class RecipeTest extends CommandLineFixture {

  private RunConfig parse(String... args) {
    TrainCommand c = new TrainCommand();
    new CommandLine(c).parseArgs(args);
    return c.validate();
  }

  /** The recipe fills every option it names that the command line leaves out, and no other. */
  @Test
  void theRecipeFillsWhatIsNotGiven() {
    Path ckpt = tmp.resolve("r.ckpt");
    RunConfig r = parse("--recipe", "fast-cpu", "--checkpoint", ckpt.toString());
    assertEquals(0.25, r.width());
    assertEquals(64, r.batch());
    assertEquals(2, r.nt());
    assertEquals("euler", r.solver());
    assertEquals("store-all", r.method());
    assertEquals(0.1, r.optimization().lr());
    assertTrue(r.optimization().flipEvaluation());
    assertTrue(r.optimization().nesterov());
    RunConfig mine =
        parse(
            "--recipe", "fast-cpu", "--batch", "16", "--nt", "3", "--checkpoint", ckpt.toString());
    assertEquals(16, mine.batch());
    assertEquals(3, mine.nt());
    assertEquals(0.25, mine.width());
    RunConfig none = parse("--checkpoint", ckpt.toString());
    assertEquals(1.0, none.width());
    assertEquals("anode", none.method());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> parse("--recipe", "slow-gpu", "--checkpoint", ckpt.toString()));
    assertEquals("--recipe must be one of fast-cpu, got 'slow-gpu'", e.getMessage());
  }

  /**
   * The preset trains on every backend: 40 training images and its batch of 64 make one step, then
   * the held-out images (not the test set) are evaluated, mirror-averaged.
   */
  @ParameterizedTest
  @ValueSource(strings = {"nd4j", "tensorflow", "djl"})
  void theRecipeTrainsOneStepOnEveryBackend(String backend) throws Exception {
    Path folder = cifar10Folder(10, 20);
    Path metrics = tmp.resolve("m.csv");
    CommandRun r =
        run(
            List.of(
                "train",
                "--recipe",
                "fast-cpu",
                "--backend",
                backend,
                "--data",
                folder.toString(),
                "--holdout",
                "10",
                "--epochs",
                "1",
                "--checkpoint",
                tmp.resolve("r.ckpt").toString(),
                "--metrics",
                metrics.toString(),
                "--no-progress"));
    assertEquals(0, r.code(), r.err());
    assertTrue(
        r.out().contains("data: 40 training and 10 held-out (evaluated instead of the test set)"),
        r.out());
    assertTrue(r.out().contains("euler × N_t=2, method store-all, " + backend), r.out());
    List<String> lines = Files.readAllLines(metrics);
    assertEquals(2, lines.size(), "header and one epoch");
  }

  /**
   * Every model × method trains for the budget, probes along the way, ends on the test set; ANODE's
   * gradient is store-all's to round-off in float64 and the adjoint's is not.
   */
  @Test
  void timeToAccuracyCurvesAndGradientErrors() throws Exception {
    Path folder = cifar10Folder(16, 20);
    Path out = tmp.resolve("tta");
    CommandRun r =
        run(
            List.of(
                "experiment",
                "time-to-accuracy",
                "--data",
                folder.toString(),
                "--backend",
                "nd4j",
                "--models",
                "resnet,sqnxt",
                "--methods",
                "anode,adjoint",
                "--width",
                "0.125",
                "--batch",
                "8",
                "--budget",
                "5s",
                "--probe-every",
                "1",
                "--probe-images",
                "10",
                "--out",
                out.toString()));
    assertEquals(0, r.code(), r.err());
    List<String[]> summary =
        ExperimentCommandsTest.rows(out.resolve("time-to-accuracy-summary.csv"));
    assertEquals(4, summary.size());
    for (String[] row : summary) {
      ExperimentCommandsTest.assertFinite(row, 3);
      double error = Double.parseDouble(row[7]);
      if (row[1].equals("anode")) {
        assertTrue(error <= 1e-12, "ANODE vs store-all " + error);
      } else {
        assertTrue(error > 1e-6, "the adjoint is not the discrete gradient: " + error);
      }
    }
    List<String[]> curves = ExperimentCommandsTest.rows(out.resolve("time-to-accuracy.csv"));
    for (String model : List.of("resnet", "sqnxt")) {
      for (String method : List.of("anode", "adjoint")) {
        List<String[]> c =
            curves.stream().filter(x -> x[0].equals(model) && x[1].equals(method)).toList();
        assertTrue(c.size() >= 2, model + " " + method + ": a probe and the final test point");
        assertEquals("test", c.get(c.size() - 1)[5]);
        assertTrue(Double.parseDouble(c.get(c.size() - 1)[3]) <= 5.0 + 1e-9, "within the budget");
      }
    }
    ExperimentCommandsTest.assertPng(out.resolve("time-to-accuracy-resnet.png"));
    ExperimentCommandsTest.assertPng(out.resolve("time-to-accuracy-sqnxt.png"));
  }
}
