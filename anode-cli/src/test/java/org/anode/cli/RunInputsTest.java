package org.anode.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The command line's answer to bad input: every bad input is refused with one line naming the flag
 * or file, exit ≠ 0, before any data is read or any file touched; files follow one policy ({@link
 * RunFiles}); a diverging or too-short budgeted run ends with the documented exit code.
 */
class RunInputsTest extends CommandLineFixture {

  /** One line on standard error, naming what is at fault; nothing trained. */
  private static void refusedInOneLine(CommandRun r, String fragment) {
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains(fragment), r.err());
    assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    assertFalse(r.out().contains("anode train:"), "refused before the run started: " + r.out());
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "--width|1e9|--width must be at most 16",
        "--threads|10000|--threads 10000: this machine gives the process",
        "--nt|100000|--nt must be in [1, 1000], got 100000",
        "--time-budget|3000000h|--time-budget must be at most 366 days",
        "--time-budget|0|--time-budget must be positive",
        "--workers|64|--workers 64 in one process: this machine gives it",
        "--spark-master|nosuch://x|--spark-master nosuch://x: not a master URL",
        "--spark-master|spark://127.0.0.1:1|--spark-master spark://127.0.0.1:1: nothing answers",
        "--memory|1MiB|--workers 2 in one process, each worker: not enough memory"
      })
  void aBadOptionIsOneLineBeforeAnyWork(String option, String value, String message)
      throws Exception {
    // A folder that does not exist: had the option passed, the run would have failed on the data.
    List<String> args = train(tmp.resolve("no-data-here"), option, value);
    if (option.equals("--spark-master")) {
      args.addAll(List.of("--workers", "1"));
    }
    if (option.equals("--memory")) {
      args = train(cifar10Folder(4, 20), option, value, "--workers", "2");
    }
    refusedInOneLine(run(args), message);
  }

  @Test
  void anUnrelatedMetricsFileIsNeverOverwrittenWithoutOverwrite() throws Exception {
    Path metrics = tmp.resolve("metrics.csv");
    Files.writeString(metrics, "someone else's numbers\n");
    refusedInOneLine(run(train(cifar10Folder(4, 20))), metrics + " exists: --resume");
    assertEquals("someone else's numbers\n", Files.readString(metrics));
  }

  @Test
  void aFailedBudgetCheckLeavesTheMetricsFileAsItWas() throws Exception {
    Path metrics = tmp.resolve("metrics.csv");
    Files.writeString(metrics, "rows of an earlier run\n");
    refusedInOneLine(
        run(train(cifar10Folder(4, 20), "--time-budget", "0", "--overwrite")),
        "--time-budget must be positive");
    assertEquals("rows of an earlier run\n", Files.readString(metrics));
  }

  @Test
  void checkpointAndMetricsMustBeTwoRegularFiles() throws Exception {
    Path folder = cifar10Folder(4, 20);
    Path same = tmp.resolve("same");
    refusedInOneLine(
        run(train(folder, "--checkpoint", same.toString(), "--metrics", same.toString())),
        "--checkpoint and --metrics name the same file");
    assertFalse(Files.exists(same));
    refusedInOneLine(
        run(train(folder, "--checkpoint", "/dev/null", "--overwrite")),
        "--checkpoint /dev/null is not a regular file");
    assertTrue(Files.exists(Path.of("/dev/null")) && !Files.isRegularFile(Path.of("/dev/null")));
    Path dir = Files.createDirectories(tmp.resolve("a-folder"));
    refusedInOneLine(
        run(train(folder, "--checkpoint", dir.toString(), "--overwrite")),
        "--checkpoint " + dir + " is a directory");
  }

  @Test
  void overwriteKeepsTheOldCheckpointWhenTheNewRunFailsToStart() throws Exception {
    Path folder = cifar10Folder(4, 20);
    assertEquals(0, run(train(folder)).code());
    Path ckpt = tmp.resolve("run.ckpt");
    byte[] before = Files.readAllBytes(ckpt);
    Path truncated = tmp.resolve("truncated.tar.gz");
    byte[] whole = Files.readAllBytes(tarGz(folder, tmp.resolve("whole.tar.gz")));
    Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length / 2));
    for (String workers : new String[] {"0", "2"}) {
      CommandRun r = run(train(truncated, "--overwrite", "--workers", workers));
      assertEquals(1, r.code(), r.all());
      String line =
          r.err().lines().filter(l -> l.startsWith("anode: ")).findFirst().orElse(r.err());
      assertTrue(line.contains(truncated + ": not a readable .tar.gz archive"), line);
      // A corrupt archive reads the same on a retry: none is made.
      assertFalse(r.err().contains("restarting"), r.err());
      assertArrayEquals(before, Files.readAllBytes(ckpt), "--workers " + workers);
    }
  }

  @Test
  void aFolderHoldingTheOfficialArchiveIsCifar() throws Exception {
    Path folder = cifar10Folder(4, 20);
    Path holder = Files.createDirectories(tmp.resolve("holder"));
    tarGz(folder, holder.resolve("cifar-10-binary.tar.gz"));
    CommandRun r = run(train(holder));
    assertEquals(0, r.code(), r.all());
    assertTrue(r.out().contains("data: 20 training and 20 test images"), r.out());
  }

  @Test
  void theEffectiveBatchIsWhatTheMemoryCheckPlansFor() throws Exception {
    CommandRun r = run(train(cifar10Folder(4, 20), "--batch", "100000", "--train-limit", "20"));
    assertEquals(0, r.code(), r.all());
  }

  @Test
  void aDivergingBudgetedRunExitsTwoWithOneLine() throws Exception {
    CommandRun r = run(train(cifar10Folder(4, 20), "--time-budget", "10m", "--lr", "1e40"));
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().startsWith("training stopped: "), r.err());
    assertFalse(r.all().contains("of -1"), r.all());
    assertFalse(Files.exists(tmp.resolve("run.ckpt")));
  }

  @Test
  void aBudgetSpentByStartUpIsRefused() throws Exception {
    CommandRun r = run(train(cifar10Folder(4, 20), "--time-budget", "0.001"));
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("--time-budget: start-up"), r.err());
    assertFalse(Files.exists(tmp.resolve("run.ckpt")), "nothing saved");
    assertFalse(Files.exists(tmp.resolve("metrics.csv")), "no metrics");
  }
}
