package org.anode.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.anode.cli.experiment.Charts;

/** What {@code anode bench} prints and writes: the table, bench.csv, bench.json and two charts. */
final class BenchReport {
  private BenchReport() {}

  /** The configuration line and the table's header. */
  static void printHeader(String configuration) {
    System.out.println(configuration);
    System.out.printf(
        "%-16s %-6s %4s %-10s %9s %8s %11s %10s %11s %8s %9s %9s %9s%n",
        "backend",
        "solver",
        "N_t",
        "method",
        "step (s)",
        "×store",
        "saved MiB",
        "live MiB",
        "predicted",
        "×store",
        "RSS MiB",
        "f fwd",
        "f bwd");
  }

  static void printRow(BenchResult r) {
    System.out.printf(
        Locale.ROOT,
        "%-16s %-6s %4d %-10s %9.3f %8.2f %11s %10s %11s %8s %9.0f %9.1f %9.1f%n",
        r.backend(),
        r.solver(),
        r.steps(),
        r.method(),
        r.seconds(),
        r.timeRatio(),
        mib(r.peakSavedBytes()),
        mib(r.peakLiveBytes()),
        mib(r.predictedBytes()),
        Double.isNaN(r.bytesRatio()) ? "n/a" : String.format(Locale.ROOT, "%.2f", r.bytesRatio()),
        r.peakRssBytes() / 1048576.0,
        r.forwardEvaluations(),
        r.backwardEvaluations());
  }

  private static String mib(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", bytes / 1048576.0);
  }

  /** bench.csv, bench.json (Jackson) and the two bar charts in {@code out}. */
  static void write(Path out, List<String> methods, List<BenchResult> results) throws IOException {
    Files.createDirectories(out);
    List<String> csv = new ArrayList<>();
    csv.add(BenchResult.CSV_HEADER);
    List<Map<String, Object>> rows = new ArrayList<>();
    for (BenchResult r : results) {
      csv.add(r.csv());
      rows.add(r.fields());
    }
    Files.write(out.resolve("bench.csv"), csv);
    new com.fasterxml.jackson.databind.ObjectMapper()
        .writerWithDefaultPrettyPrinter()
        .writeValue(out.resolve("bench.json").toFile(), rows);
    List<String> groups = new ArrayList<>();
    Map<String, List<Double>> time = new LinkedHashMap<>();
    Map<String, List<Double>> memory = new LinkedHashMap<>();
    for (BenchResult r : results) {
      String g = r.backend() + " " + r.solver() + " N_t=" + r.steps();
      if (!groups.contains(g)) {
        groups.add(g);
      }
    }
    for (String m : methods) {
      List<Double> t = new ArrayList<>();
      List<Double> b = new ArrayList<>();
      for (String g : groups) {
        BenchResult found = null;
        for (BenchResult r : results) {
          if (r.method().equals(m)
              && g.equals(r.backend() + " " + r.solver() + " N_t=" + r.steps())) {
            found = r;
          }
        }
        t.add(found == null ? 0.0 : found.seconds());
        b.add(found == null ? 0.0 : Math.max(0, found.peakSavedBytes()) / 1048576.0);
      }
      time.put(m, t);
      memory.put(m, b);
    }
    Charts.bars(out.resolve("bench-time.png"), "Training step time", "seconds", groups, time);
    Charts.bars(
        out.resolve("bench-memory.png"), "Peak saved bytes of the tape", "MiB", groups, memory);
    System.out.println(
        "wrote " + out.resolve("bench.csv") + ", bench.json, bench-time.png, bench-memory.png");
  }
}
