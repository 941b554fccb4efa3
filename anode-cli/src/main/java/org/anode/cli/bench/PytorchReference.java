package org.anode.cli.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code anode bench --reference PYTHON}: the PyTorch version of the bench's stack model or
 * ODE-ResNet, this package's resource {@code anode_reference.py} (store-all, and ANODE as {@code
 * torch.utils.checkpoint} per block), run in the same session so that its figures sit beside ours.
 */
final class PytorchReference {
  private PytorchReference() {}

  /**
   * Runs the script with {@code python} on {@code bench}'s configuration: backend {@code pytorch
   * VERSION}, store-all and anode. Saved bytes are not measured there (-1). A failure is reported
   * and yields no rows.
   */
  static List<BenchResult> run(String python, BenchCommand bench)
      throws IOException, InterruptedException {
    String model = bench.model;
    List<String> solvers = bench.solvers;
    List<String> methods = bench.methods;
    List<Integer> steps = bench.steps;
    List<BenchResult> rows = new ArrayList<>();
    if (!(model.equals("stack") || model.equals("resnet")) || !solvers.contains("euler")) {
      System.err.println(
          "anode bench --reference: only for --model stack or resnet with the euler solver, got"
              + " --model "
              + model
              + " --solvers "
              + String.join(",", solvers));
      return rows;
    }
    List<String> wanted =
        methods.stream().filter(m -> m.equals("store-all") || m.equals("anode")).toList();
    Path script = Files.createTempFile("anode_reference", ".py");
    try (InputStream in = PytorchReference.class.getResourceAsStream("anode_reference.py")) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    try {
      for (int nt : steps) {
        List<String> cmd =
            new ArrayList<>(
                List.of(
                    python,
                    script.toString(),
                    "--csv",
                    "--threads",
                    Integer.toString(bench.threads),
                    "--blocks",
                    Integer.toString(bench.blocks),
                    "--channels",
                    Integer.toString(bench.channels),
                    "--batch",
                    Integer.toString(bench.batch),
                    "--size",
                    Integer.toString(bench.size),
                    "--nt",
                    Integer.toString(nt),
                    "--warmup",
                    Integer.toString(bench.warmup),
                    "--warmup-seconds",
                    Double.toString(bench.warmupSeconds),
                    "--repeats",
                    Integer.toString(bench.repeats),
                    "--methods",
                    String.join(",", wanted),
                    "--model",
                    model,
                    "--width",
                    Double.toString(bench.width)));
        rows.addAll(runReference(cmd, nt));
      }
    } finally {
      Files.deleteIfExists(script);
    }
    return rows;
  }

  private static List<BenchResult> runReference(List<String> cmd, int nt)
      throws IOException, InterruptedException {
    List<BenchResult> rows = new ArrayList<>();
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    } catch (IOException e) {
      System.err.println(
          "anode bench --reference: cannot run " + cmd.get(0) + ": " + e.getMessage());
      return rows;
    }
    List<String> lines = new String(p.getInputStream().readAllBytes()).lines().toList();
    int exit = p.waitFor();
    String version = null;
    BenchResult base = null;
    for (String line : lines) {
      String[] f = line.split(",");
      if (f.length == 2 && f[0].equals("torch")) {
        version = f[1];
      } else if (version != null && f.length == 5) {
        double seconds = Double.parseDouble(f[1]);
        boolean isBase = f[0].equals("store-all");
        double ratio = isBase ? 1.0 : base == null ? Double.NaN : seconds / base.seconds();
        BenchResult r =
            new BenchResult(
                "pytorch " + version,
                "euler",
                nt,
                f[0],
                seconds,
                -1,
                -1,
                -1,
                Long.parseLong(f[2]),
                Double.parseDouble(f[3]),
                Double.parseDouble(f[4]),
                ratio,
                Double.NaN);
        if (isBase) {
          base = r;
        }
        rows.add(r);
      }
    }
    if (exit != 0 || version == null) {
      int from = Math.max(0, lines.size() - 5);
      System.err.println(
          "anode bench --reference: "
              + String.join(" ", cmd.subList(0, 2))
              + " exited with "
              + exit
              + (lines.isEmpty()
                  ? ""
                  : ":\n  " + String.join("\n  ", lines.subList(from, lines.size()))));
      return List.of();
    }
    return rows;
  }
}
